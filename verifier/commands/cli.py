"""``verifier``: thin ``main()`` over a pure, tested ``parse_arguments(argv)``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from verifier.core.errors import VerifierError
from verifier.device.buildinfo import VersionAction

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one clear line, exit 2
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = _Parser(prog="verifier", description="Offline verifier for ML1 student ID codes.")
    parser.add_argument("--config", type=str, help="config file (TOML)")
    parser.add_argument("--version", action=VersionAction)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = sub.add_parser("check", help="verify codes in images, texts or standard input")
    check.add_argument("--json", action="store_true", help="one JSON object per input per line")
    check.add_argument("--anchor", metavar="PEM", help="trust anchor public key (PEM)")
    check.add_argument("--trust-list", metavar="FILE", help="signed trust list file")
    rev = check.add_mutually_exclusive_group()
    rev.add_argument("--revocation-list", metavar="FILE", help="signed revocation list file")
    rev.add_argument(
        "--no-revocation-list", action="store_true", help="check without any revocation list"
    )
    check.add_argument("--now", type=int, metavar="EPOCH_SECONDS", help="verify at this time")
    check.add_argument("--window", type=int, metavar="SECONDS", help="presentation window")
    check.add_argument(
        "--clock",
        choices=("synchronized", "unsynchronized"),
        help="treat this machine's clock as synchronized or not (default: from the config's "
        "clock setting); an unsynchronized clock gives CHECK, never VALID",
    )
    check.add_argument("--text", action="store_true", help="INPUTs are QR texts, not images")
    check.add_argument("--lang", choices=("en", "pl"), default="en", help="language of lines")
    check.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="image file, QR text (--text), or - for stdin"
    )

    decode = sub.add_parser("decode", help="print the QR texts found in images")
    decode.add_argument("--json", action="store_true")
    decode.add_argument("images", nargs="+", metavar="IMAGE")

    demo = sub.add_parser("demo", help="issue test credentials and verify their QR images")
    demo.add_argument("--out", metavar="DIR", help="keep the generated images here")

    sub.add_parser("sync", help="fetch the trust list and revocation list from list_url")

    audit = sub.add_parser("audit", help="verdict counts from the app's audit log (no names)")
    audit.add_argument("--days", type=int, default=1, help="today and the N-1 days before")
    audit.add_argument("--rows", action="store_true", help="print every row, not only counts")
    audit_fmt = audit.add_mutually_exclusive_group()
    audit_fmt.add_argument("--json", dest="fmt", action="store_const", const="json",
                           default="text", help="one JSON object")
    audit_fmt.add_argument("--csv", dest="fmt", action="store_const", const="csv",
                           help="CSV with a header line (for a spreadsheet)")

    status = sub.add_parser("status", help="how this kit is: lists, sync, clock, camera, counts")
    out = status.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object")
    out.add_argument(
        "--prometheus", metavar="FILE", help="write Prometheus textfile metrics (- for stdout)"
    )

    sub.add_parser("selfcheck", help="the installed kit tests itself (install.sh --check)")

    app = sub.add_parser("app", help="the inspector's full-screen terminal app")
    app.add_argument("--demo", action="store_true", help="replay demo credentials, no hardware")
    app.add_argument("--replay", metavar="PATH", help="read frames from images or a video")
    app.add_argument("--kiosk", action="store_true", help="ask before quitting")
    app.add_argument("--lang", choices=("pl", "en"), help="language (default: config)")

    args = parser.parse_args(list(argv))
    if args.command == "check" and args.window is not None and args.window < 0:
        parser.error("--window must not be negative")
    if args.command == "audit" and not 1 <= args.days <= 3660:
        parser.error("--days must be between 1 and 3660")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "check":
            from verifier.commands.check import run_check

            # stdin as bytes: decoded by the check itself, never through the locale
            return run_check(args, getattr(sys.stdin, "buffer", sys.stdin), sys.stdout, sys.stderr)
        if args.command == "decode":
            from verifier.commands.decode import run_decode

            return run_decode(args.images, args.json, sys.stdout, sys.stderr)
        if args.command == "sync":
            from verifier.commands.sync import run_sync
            from verifier.device.config import load_config

            config = load_config(Path(args.config) if args.config else None)
            return run_sync(config, sys.stdout, sys.stderr)
        if args.command == "audit":
            from verifier.commands.audit import run_audit
            from verifier.device.config import load_config

            config = load_config(Path(args.config) if args.config else None)
            return run_audit(config, args.days, args.rows, sys.stdout, fmt=args.fmt)
        if args.command == "status":
            from verifier.commands.status import run_status
            from verifier.device.config import load_config

            config = load_config(Path(args.config) if args.config else None)
            return run_status(config, args.json, args.prometheus, sys.stdout)
        if args.command == "selfcheck":
            from verifier.commands.selfcheck import run_selfcheck

            return run_selfcheck(Path(args.config) if args.config else None, sys.stdout)
        if args.command == "app":
            from verifier.commands.app import run_app

            return run_app(args)
        if args.command == "demo":
            from verifier.commands.demo import run_text_demo

            return run_text_demo(args.out, sys.stdout)
    except VerifierError as exc:
        print(f"verifier: {exc.title.lower()}: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a path the user named: missing, not writable, a full disk
        from verifier.device.oserror import describe

        print(f"verifier: {describe(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    raise AssertionError(f"unhandled command {args.command}")  # argparse prevents this


if __name__ == "__main__":
    sys.exit(main())
