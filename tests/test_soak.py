"""The soak tier (``pytest -m soak``; not in the default run): bench/soak.py's 500 codes
through the real app with the replay camera and a list sync every 20 codes."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from tests.conftest import REPO


def _soak():
    path = REPO / "bench" / "soak.py"
    spec = importlib.util.spec_from_file_location("soak", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("soak", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.soak
def test_500_codes_with_a_sync_every_20_lose_no_thread_memory_or_verdict() -> None:
    result = _soak().run_soak(codes=500, sync_every=20, ids=200_000)
    assert result.alive_at_end and result.camera_at_end == "ok"  # no worker thread lost
    # The same threads at the end as after 50 codes (one more or less: a sync in flight).
    assert result.threads_end is not None and result.threads_after_50 is not None
    assert abs(result.threads_end - result.threads_after_50) <= 1
    assert result.covered == 500 and not result.wrong  # every code, every verdict as expected
    assert result.syncs_asked >= 20 and result.syncs_done >= 10
    assert result.revocation_seq_end is not None and result.revocation_seq_end >= 10
    drift = result.rss_drift
    assert drift is not None and abs(drift) <= 0.05, f"RSS drift {drift:+.1%}"


def test_soak_tier_runs_its_own_world_in_small() -> None:
    """Seconds, in the default run: the soak's machinery itself (app, camera, syncs, audit)."""
    result = _soak().run_soak(codes=12, sync_every=6, ids=100, deadline=120)
    assert result.alive_at_end and result.verdicts_ok and result.syncs_asked >= 1
