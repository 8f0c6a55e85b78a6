"""``issuer-stub``: a test issuer on disk. Thin ``main()`` over a pure ``parse_arguments(argv)``.

Not a production issuer: keys are plain PEM files protected only by file permissions.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from issuer_stub.registry import Published, Registry, RegistryError, cti_of_wallet
from issuer_stub.semesters import next_semester_end
from issuer_stub.signing import StudentData
from issuer_stub.wallet import Wallet
from verifier.clock import SystemClock
from verifier.credential import MAX_PHOTO_BYTES

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one clear line, exit 2
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _add_now(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--now", type=int, metavar="EPOCH", help="act at this time (tests, demos)")


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = _Parser(prog="issuer-stub", description="Test issuer for ML1 credentials and lists.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    init = sub.add_parser("init", help="create a trust anchor and a university key, publish")
    init.add_argument("dir", metavar="DIR", type=Path)
    init.add_argument("--iss", default="PL-1043", help="issuer id (POL-on code)")
    init.add_argument("--name", default="Uczelnia Testowa", help="university name")
    _add_now(init)

    issue = sub.add_parser("issue", help="issue a credential into a new wallet file")
    issue.add_argument("dir", metavar="DIR", type=Path)
    issue.add_argument("--given-names", required=True)
    issue.add_argument("--family-name", required=True)
    issue.add_argument("--birth-date", required=True, metavar="YYYY-MM-DD")
    issue.add_argument("--album", required=True)
    issue.add_argument("--photo", type=Path, metavar="JPEG")
    issue.add_argument("--exp", type=int, metavar="EPOCH", help="default: end of the semester")
    issue.add_argument("--iss", help="which issuer of DIR signs (default: the first)")
    issue.add_argument("--wallet", required=True, type=Path, metavar="WALLET.json")
    _add_now(issue)

    present = sub.add_parser("present", help="print a wallet's QR text (and write a PNG)")
    present.add_argument("wallet", metavar="WALLET.json", type=Path)
    present.add_argument("--png", type=Path, metavar="FILE")
    _add_now(present)

    revoke = sub.add_parser("revoke", help="revoke a credential and republish at once")
    revoke.add_argument("dir", metavar="DIR", type=Path)
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--cti", metavar="HEX", help="credential id, 32 hex digits")
    which.add_argument("--wallet", type=Path, metavar="WALLET.json")
    _add_now(revoke)

    publish = sub.add_parser("publish", help="sign and write DIR/public/*.cbor anew")
    publish.add_argument("dir", metavar="DIR", type=Path)
    _add_now(publish)

    serve = sub.add_parser("serve", help="serve DIR/public over HTTP, republishing hourly")
    serve.add_argument("dir", metavar="DIR", type=Path)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--republish-every", type=int, default=3600, metavar="SECONDS")

    args = parser.parse_args(list(argv))
    if args.command == "revoke" and args.cti is not None:
        try:
            args.cti = bytes.fromhex(args.cti)
        except ValueError:
            parser.error("--cti must be hex digits")
    if args.command == "serve" and not 1 <= args.republish_every <= 3600:
        parser.error("--republish-every must be between 1 and 3600 seconds (ML1: at least hourly)")
    if args.command == "serve" and not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    return args


def _published(p: Published, out: TextIO) -> None:
    if p.trust_seq is not None:
        out.write(f"trust list seq {p.trust_seq} published\n")
    out.write(f"revocation list seq {p.revocation_seq} published ({p.revoked} ids)\n")


def _read_photo(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RegistryError(f"cannot read photo {path}: {exc.strerror}") from None
    if len(data) > MAX_PHOTO_BYTES or not data.startswith(b"\xff\xd8"):
        raise RegistryError(f"photo must be a JPEG of at most {MAX_PHOTO_BYTES} bytes")
    return data


def run(args: argparse.Namespace, out: TextIO) -> int:
    now = getattr(args, "now", None)
    now = SystemClock().now() if now is None else now
    if args.command == "present":
        wallet = Wallet.load(args.wallet)
        if wallet.credential is None:
            raise RegistryError("this wallet holds no credential")
        out.write(wallet.present(now) + "\n")
        if args.png is not None:
            wallet.present_png(now, args.png)
        return EXIT_OK
    registry = Registry(args.dir)
    if args.command == "init":
        _published(registry.init(args.iss, args.name, now), out)
        out.write(f"give verifiers the trust anchor: {registry.anchor_path}\n")
    elif args.command == "issue":
        state = registry.state()
        uni = next((i["name"] for i in state["issuers"] if args.iss in (None, i["iss"])), None)
        if uni is None:
            raise RegistryError(f"no issuer {args.iss} in this directory")
        student = StudentData(
            given_names=args.given_names,
            family_name=args.family_name,
            birth_date=args.birth_date,
            university=uni,
            album=args.album,
            photo=None if args.photo is None else _read_photo(args.photo),
        )
        exp = next_semester_end(now) if args.exp is None else args.exp
        wallet = registry.issue(student, now, exp, iss=args.iss)
        wallet.save(args.wallet)
        out.write(f"credential {cti_of_wallet(wallet).hex()} issued into {args.wallet}\n")
    elif args.command == "revoke":
        cti = args.cti if args.cti is not None else cti_of_wallet(Wallet.load(args.wallet))
        published = registry.revoke(cti, now)
        out.write(f"credential {cti.hex()} revoked\n")
        _published(published, out)
    elif args.command == "publish":
        _published(registry.publish(now), out)
    elif args.command == "serve":
        return _serve(registry, args, out)
    return EXIT_OK


def _serve(registry: Registry, args: argparse.Namespace, out: TextIO) -> int:
    from issuer_stub.server import ListServer  # aiohttp only for this command

    registry.state()  # fail early on a wrong directory
    server = ListServer(registry, args.host, args.port, args.republish_every)
    url = server.start()
    out.write(f"serving {registry.public_dir} at {url}/trustlist.cbor and /revocations.cbor\n")
    out.flush()
    try:
        server.wait()
    except KeyboardInterrupt:
        server.stop()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    try:
        return run(args, sys.stdout)
    except RegistryError as exc:
        print(f"issuer-stub: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except (OSError, ValueError) as exc:  # unreadable wallet, bad key file, ...
        print(f"issuer-stub: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ImportError as exc:
        print(f"issuer-stub: {exc.name} is needed for this command (pip install aiohttp)",
              file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
