"""``verifier decode IMAGE...``: print the QR texts found in image files (no verification)."""

from __future__ import annotations

from typing import TextIO

from verifier.core.errors import VerifierError


def run_decode(paths: list[str], as_json: bool, out: TextIO, err: TextIO) -> int:
    """Decode each image; exit 0 if every image had a code, 1 if some had none, 2 if unreadable.

    Human output: ``path: N code(s)`` then each text on its own indented line. JSON output:
    one object per line, ``{"input": path, "texts": [...]}``. Unreadable files get one line
    on ``err`` and are skipped; the others are still decoded.
    """
    from verifier.commands.check import json_line, shown
    from verifier.core.textout import escaped
    from verifier.imaging.decoding import decode_gray, load_gray

    unreadable = False
    missing = False
    for path in paths:
        try:
            gray = load_gray(path)
        except VerifierError as exc:
            err.write(f"error: {exc.message}\n")
            unreadable = True
            continue
        texts = decode_gray(gray)
        missing = missing or not texts
        if as_json:
            out.write(json_line({"input": shown(path), "texts": texts}))
        else:
            # a QR text may hold escape sequences or line breaks: shown, never obeyed
            out.write(f"{escaped(path)}: {len(texts)} code{'' if len(texts) == 1 else 's'}\n")
            for text in texts:
                out.write(f"  {escaped(text)}\n")
    if unreadable:
        return 2
    return 1 if missing else 0
