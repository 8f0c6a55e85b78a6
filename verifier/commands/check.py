"""``verifier check``: the scriptable front door (interface fixed by other tools)."""

from __future__ import annotations

import argparse
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, TextIO

from verifier.core.credential import MAX_TEXT_LENGTH
from verifier.core.errors import ConfigError
from verifier.core.result import CheckResult
from verifier.core.textout import escaped, result_line
from verifier.device.clock import SystemClock
from verifier.device.config import load_config
from verifier.device.trustdata import load_trust_data
from verifier.imaging.decoding import load_gray
from verifier.imaging.pipeline import check_frame, check_text

EXIT_USAGE = 2
_READ = 64 * 1024
_BREAK = re.compile(rb"[\r\n]")
#: An over-long line is echoed (in ``--json``) only this far.
SHOWN_CHARS = 40


def stdin_lines(stream: IO[Any], limit: int = MAX_TEXT_LENGTH) -> Iterator[tuple[str, bool]]:
    """(text, too_long) for each non-empty line of a byte stream, as it arrives.

    Bytes are decoded here, never through the locale: UTF-8, an invalid byte becoming U+FFFD
    (base45 is ASCII, so such a line can only be invalid, and only that line). Lines end at LF,
    CR LF or CR (a scanner's suffix). A line is never held past ``limit + 1`` bytes: the rest
    of it is skipped, and ``too_long`` says so (more than ``limit`` characters is malformed, or
    unknown_format without the prefix, whatever follows). A text stream (a test's StringIO)
    is read the same way.
    """
    line = bytearray()
    dropped = False  # bytes of the current line were skipped
    skip_lf = False  # the last line ended in CR: an LF right after it belongs to it
    read = getattr(stream, "read1", None) or stream.read
    while True:
        chunk = read(_READ)
        if not chunk:
            break
        if isinstance(chunk, str):
            chunk = chunk.encode("utf-8", "surrogatepass")
        start = 0
        if skip_lf and chunk[:1] == b"\n":
            start = 1
        skip_lf = False
        while start < len(chunk):
            found = _BREAK.search(chunk, start)
            end = len(chunk) if found is None else found.start()
            room = limit + 1 - len(line)
            piece = chunk[start:end]
            line += piece[: max(room, 0)]
            dropped = dropped or len(piece) > room
            if end == len(chunk):  # the line goes on in the next chunk
                break
            if chunk[end : end + 1] == b"\r":
                if chunk[end + 1 : end + 2] == b"\n":
                    end += 1
                elif end + 1 == len(chunk):
                    skip_lf = True
            if line:
                yield line.decode("utf-8", "replace"), dropped
            line, dropped = bytearray(), False
            start = end + 1
    if line:
        yield line.decode("utf-8", "replace"), dropped


def shown(text: str, too_long: bool = False) -> str:
    """The input as echoed: lone surrogates (an undecodable argv byte) become U+FFFD, and a
    line over the cap is cut to its first characters."""
    clean = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return clean[:SHOWN_CHARS] + "…" if too_long else clean


def json_line(obj: dict[str, Any]) -> str:
    """One JSON object on one line, ASCII only: valid UTF-8 under every locale, and U+2028,
    U+2029 and every other non-ASCII character escaped (no line break inside a record)."""
    return json.dumps(obj, ensure_ascii=True) + "\n"


def _inputs(args: argparse.Namespace, stdin: IO[Any]) -> Iterator[tuple[str, str, str]]:
    """(kind, value, shown) triples: kind is "text" or "image"; "-" expands to stdin lines."""
    for item in args.inputs:
        if item == "-":
            for text, too_long in stdin_lines(stdin):
                yield "text", text, shown(text, too_long)
        else:
            yield ("text" if args.text else "image"), item, shown(item)


def run_check(args: argparse.Namespace, stdin: IO[Any], out: TextIO, err: TextIO) -> int:
    config = load_config(Path(args.config) if args.config else None)
    data = load_trust_data(
        config,
        anchor_path=Path(args.anchor) if args.anchor else None,
        trust_list_path=Path(args.trust_list) if args.trust_list else None,
        revocation_path=Path(args.revocation_list) if args.revocation_list else None,
        no_revocation_list=args.no_revocation_list,
    )
    if not args.text:  # refuse before printing anything, not halfway through the batch
        for item in args.inputs:
            if item != "-" and not Path(item).is_file():
                raise ConfigError(f"cannot read image {shown(item)}: no such file")
    if isinstance(out, io.TextIOWrapper):  # a name the terminal's encoding lacks: never a crash
        out.reconfigure(errors="replace")
    clock = SystemClock(config.clock)
    now = clock.now() if args.now is None else args.now
    synchronized = clock.synchronized() if args.clock is None else args.clock == "synchronized"
    window = config.window if args.window is None else args.window
    all_ok, checked = True, 0
    for kind, value, echo in _inputs(args, stdin):
        result: CheckResult
        if kind == "text":
            result = check_text(value, data, now, window, clock_synchronized=synchronized)
        else:
            result = check_frame(
                load_gray(value), data, now, window, clock_synchronized=synchronized
            )
        checked += 1
        all_ok = all_ok and result.verdict == "valid"
        if args.json:
            out.write(json_line({"input": echo, **result.to_json()}))
        else:
            where = escaped(echo) if kind == "image" else "text"
            out.write(f"{result_line(result, args.lang)}  [{where}]\n")
        out.flush()
    if not checked:  # only "-" can give nothing: an empty pipe is a mistake, not a verdict
        err.write("verifier: standard input held no code to check (one QR text per line)\n")
        return EXIT_USAGE
    return 0 if all_ok else 1
