"""`verifier check --lang pl` reads as Polish: verdict words, the date's label, the sentences."""

from __future__ import annotations

from tests.conftest import NOW, World
from verifier.core.policy import verify
from verifier.core.textout import result_line


def test_check_lines_in_polish() -> None:
    world = World()
    wallet = world.wallet(cti=bytes(16))
    valid = result_line(verify(wallet.present(NOW), world.trust_list(), world.revocations(), NOW),
                        "pl")
    assert valid.startswith("WAŻNA | ") and ", ważna do " in valid and "valid" not in valid
    check = result_line(verify(wallet.present(NOW), world.trust_list(), None, NOW), "pl")
    assert check.startswith("SPRAWDŹ | czytnik nie ma listy unieważnień")
    world.ministry.revoked.add(bytes(16))
    revoked = result_line(
        verify(wallet.present(NOW), world.trust_list(), world.revocations(), NOW), "pl"
    )
    assert revoked.startswith("NIEWAŻNA | revoked: legitymacja została unieważniona")
    assert "ważna do" not in revoked and "termin ważności" in revoked
    stale = result_line(
        verify(world.wallet().present(NOW - 500), world.trust_list(), world.revocations(), NOW),
        "pl",
    )
    assert "świeży" not in stale and "kod nie jest aktualny" in stale
