"""Offline verifier for ML1 mobile student credentials.

The pure core (no I/O, no clock, no UI): ``base45`` -> ``compression`` -> ``cbor`` -> ``cose``
-> ``credential`` -> ``policy`` -> ``result``. The shell (camera, decoding, storage, sync, CLI,
UI) lives in its own modules and injects time and data into the core.
"""

from verifier.core.errors import ConfigError, FormatError, ListError, VerifierError
from verifier.core.policy import DEFAULT_WINDOW, verify
from verifier.core.reasons import Reason, Verdict, WarningCode
from verifier.core.result import CheckResult
from verifier.core.revocation import RevocationList
from verifier.core.trustlist import TrustList

__all__ = [
    "DEFAULT_WINDOW",
    "CheckResult",
    "ConfigError",
    "FormatError",
    "ListError",
    "Reason",
    "RevocationList",
    "TrustList",
    "Verdict",
    "VerifierError",
    "WarningCode",
    "verify",
]
