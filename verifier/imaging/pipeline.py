"""The path every input takes: frame or text -> verdict. The CLI, scan loop and UI share it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from verifier.core.credential import PREFIX
from verifier.core.policy import DEFAULT_WINDOW, verify
from verifier.core.result import NO_CODE_FOUND, CheckResult
from verifier.device.trustdata import TrustData
from verifier.imaging.decoding import decode_gray


def pick_text(texts: Sequence[str]) -> str | None:
    """The code to check when a frame holds several: the first ML1 code, else the first."""
    for text in texts:
        if text.startswith(PREFIX):
            return text
    return texts[0] if texts else None


def check_text(
    text: str,
    data: TrustData,
    now: int,
    window: int = DEFAULT_WINDOW,
    *,
    clock_synchronized: bool = True,
) -> CheckResult:
    return verify(
        text,
        data.trust_list,
        data.revocations,
        now,
        window,
        clock_synchronized=clock_synchronized,
    )


def check_texts(
    texts: Sequence[str],
    data: TrustData,
    now: int,
    window: int = DEFAULT_WINDOW,
    *,
    clock_synchronized: bool = True,
) -> CheckResult:
    text = pick_text(texts)
    if text is None:
        return NO_CODE_FOUND
    return check_text(text, data, now, window, clock_synchronized=clock_synchronized)


def check_frame(
    gray: np.ndarray,
    data: TrustData,
    now: int,
    window: int = DEFAULT_WINDOW,
    *,
    clock_synchronized: bool = True,
) -> CheckResult:
    """Decode a greyscale frame (file or camera) and check what it shows."""
    return check_texts(
        decode_gray(gray), data, now, window, clock_synchronized=clock_synchronized
    )
