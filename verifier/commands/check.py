"""``verifier check``: the scriptable front door (interface fixed by other tools)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from verifier.core.errors import ConfigError
from verifier.core.result import CheckResult
from verifier.core.textout import result_line
from verifier.device.clock import SystemClock
from verifier.device.config import load_config
from verifier.device.trustdata import load_trust_data
from verifier.imaging.decoding import load_gray
from verifier.imaging.pipeline import check_frame, check_text


def _inputs(args: argparse.Namespace, stdin: TextIO) -> Iterator[tuple[str, str]]:
    """(kind, value) pairs: kind is "text" or "image"; "-" expands to stdin lines."""
    for item in args.inputs:
        if item == "-":
            for line in stdin:
                text = line.rstrip("\r\n")  # base45 may end in a space: strip only the newline
                if text:
                    yield "text", text
        else:
            yield ("text" if args.text else "image"), item


def run_check(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
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
                raise ConfigError(f"cannot read image {item}: no such file")
    clock = SystemClock(config.clock)
    now = clock.now() if args.now is None else args.now
    synchronized = clock.synchronized() if args.clock is None else args.clock == "synchronized"
    window = config.window if args.window is None else args.window
    all_ok = True
    for kind, value in _inputs(args, stdin):
        result: CheckResult
        if kind == "text":
            result = check_text(value, data, now, window, clock_synchronized=synchronized)
        else:
            result = check_frame(
                load_gray(value), data, now, window, clock_synchronized=synchronized
            )
        all_ok = all_ok and result.verdict == "valid"
        if args.json:
            out.write(json.dumps({"input": value, **result.to_json()}, ensure_ascii=False) + "\n")
        else:
            out.write(
                f"{result_line(result, args.lang)}  [{value if kind == 'image' else 'text'}]\n"
            )
        out.flush()
    return 0 if all_ok else 1
