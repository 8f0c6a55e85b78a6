"""A revocation list at scale: sign, load, look up, and compare with a plain Python set.

Run: ``.venv/bin/python bench/bench_revocation.py [--entries 1000000] [--lookups 20000]``

Everything is measured in this one run on this machine: the baseline (a ``set`` of the same ids
as ``bytes`` objects) runs next to the real list, so the ratios hold even where absolute
figures do not (a Raspberry Pi is several times slower than a desktop).
"""

from __future__ import annotations

import argparse
import gc
import gzip
import os
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from issuer_stub.keystore import new_key
from issuer_stub.signing import sign_revocation_list
from verifier.core.keys import Anchor, kid_of
from verifier.core.revocation import ID_LENGTH, RevocationList

MB = 1024 * 1024


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Median seconds over ``repeat`` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def retained(fn: Callable[[], Any]) -> tuple[int, int, Any]:
    """(bytes still allocated after ``fn``, peak during it), and its result.

    tracemalloc, not RSS: freed memory of earlier runs stays in the process and would hide
    the growth; tracemalloc counts every Python allocation, the 16 MB buffers included.
    """
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    result = fn()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return current - base, peak - base, result


def per_lookup_us(contains: Callable[[bytes], bool], probes: list[bytes]) -> float:
    start = time.perf_counter()
    for probe in probes:
        contains(probe)
    return (time.perf_counter() - start) / len(probes) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    args = parser.parse_args(argv)
    n = args.entries

    key = new_key()
    anchor = Anchor(key=key.public_key(), kid=kid_of(key.public_key()))
    pool = os.urandom(ID_LENGTH * n)
    sign_s, raw = timed(
        lambda: sign_revocation_list(
            key, 1, 1_800_000_000, (pool[i : i + ID_LENGTH] for i in range(0, len(pool), 16))
        ),
        repeat=1,
    )
    gz = len(gzip.compress(raw, compresslevel=9))

    load_s, rl = timed(lambda: RevocationList.from_bytes(raw, anchor))
    del rl
    rl_mem, rl_peak, rl = retained(lambda: RevocationList.from_bytes(raw, anchor))
    assert len(rl) == n

    # Baseline: the same ids as a Python set of bytes objects, built from the same buffer.
    buffer = bytes(rl.ids)
    build = lambda: {buffer[i : i + ID_LENGTH] for i in range(0, len(buffer), ID_LENGTH)}  # noqa: E731
    set_s, baseline = timed(build)
    del baseline
    set_mem, set_peak, baseline = retained(build)

    rng = random.Random(1)
    picks = rng.sample(range(n), min(n, args.lookups))
    hits = [buffer[i * ID_LENGTH : (i + 1) * ID_LENGTH] for i in picks]
    misses = [os.urandom(ID_LENGTH) for _ in range(args.lookups)]
    assert all(h in rl for h in hits[:100]) and not any(m in rl for m in misses[:100])
    rl_hit = per_lookup_us(rl.__contains__, hits)
    rl_miss = per_lookup_us(rl.__contains__, misses)
    set_hit = per_lookup_us(baseline.__contains__, hits)
    set_miss = per_lookup_us(baseline.__contains__, misses)

    rows = [
        ("entries", f"{n:,}", ""),
        ("signed list (download)", f"{len(raw) / MB:.2f} MiB ({len(raw):,} B)", ""),
        (
            "gzip -9 of it",
            f"{gz / MB:.2f} MiB ({gz / len(raw):.3f} of raw)",
            "random ids: only the sorted leading bits compress",
        ),
        ("sign (issuer, incl. sort)", f"{sign_s * 1e3:.0f} ms", ""),
        (
            "load = verify sig + CBOR + order check",
            f"{load_s * 1e3:.1f} ms",
            f"set build: {set_s * 1e3:.0f} ms; ratio {set_s / load_s:.1f}x faster than the set",
        ),
        (
            "memory kept (tracemalloc)",
            f"{rl_mem / MB:.1f} MiB (peak {rl_peak / MB:.1f})",
            f"set: {set_mem / MB:.1f} MiB (peak {set_peak / MB:.1f}); "
            f"ratio {set_mem / rl_mem:.1f}x",
        ),
        ("lookup, hit", f"{rl_hit:.2f} µs", f"set: {set_hit:.3f} µs ({rl_hit / set_hit:.0f}x)"),
        (
            "lookup, miss",
            f"{rl_miss:.2f} µs",
            f"set: {set_miss:.3f} µs ({rl_miss / set_miss:.0f}x)",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(
        f"Revocation list at scale ({sys.implementation.name} {sys.version.split()[0]}, "
        f"{os.cpu_count()} cpu)"
    )
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:<34} {note}")
    for mbit in (2, 10, 50):
        print(f"  download at {mbit:>2} Mbit/s: {len(raw) * 8 / (mbit * 1e6):6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
