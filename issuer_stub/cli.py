"""``issuer-stub``: a test issuer on disk. Thin ``main()`` over a pure ``parse_arguments(argv)``.

Not a production issuer: keys are plain PEM files protected only by file permissions.
Every command that acts takes ``--now EPOCH`` (tests, demos); the system clock otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn, TextIO

from issuer_stub.eligibility import failures
from issuer_stub.errors import InvalidInput, IssuerError, SetupError
from issuer_stub.office import Issued, Office
from issuer_stub.records import STATUSES
from issuer_stub.registry import Published, Registry, cti_of_wallet
from issuer_stub.semesters import following_semester_end, next_semester_end
from issuer_stub.signing import StudentData
from issuer_stub.timefmt import last_valid_day, moment
from issuer_stub.wallet import Wallet, render_png
from verifier.core.textout import warsaw
from verifier.device.buildinfo import VersionAction
from verifier.device.clock import SystemClock
from verifier.device.oserror import describe as describe_os_error

EXIT_OK, EXIT_USAGE = 0, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one clear line, exit 2
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _add_now(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--now", type=int, metavar="EPOCH", help="act at this time (tests, demos)")


def _add_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", type=Path)


def _student_fields(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("--given-names", required=required)
    parser.add_argument("--family-name", required=required)
    parser.add_argument("--birth-date", required=required, metavar="YYYY-MM-DD")
    parser.add_argument("--pesel")
    parser.add_argument("--album")
    parser.add_argument("--status", choices=STATUSES)
    parser.add_argument("--photo", type=Path, metavar="IMAGE",
                        help="a photo of the face (JPEG, PNG, WebP, AVIF): the portrait is made")
    parser.add_argument("--els-issued", metavar="YYYY-MM-DD|EPOCH|today",
                        help="when the student ID card (ELS) was issued")
    parser.add_argument("--els-valid-until", metavar="YYYY-MM-DD|next",
                        help="last valid day of the ELS: 31 March or 31 October "
                             "(next: the end of the current semester)")


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = _Parser(prog="issuer-stub", description="Test issuer for ML1 credentials and lists.")
    parser.add_argument("--version", action=VersionAction)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    init = sub.add_parser("init", help="create a trust anchor and a university key, publish")
    _add_dir(init)
    init.add_argument("--iss", default="PL-1043", help="issuer id (POL-on code)")
    init.add_argument("--name", default="Uczelnia Testowa", help="university name")
    _add_now(init)

    student = sub.add_parser("student", help="student records: add, import, list, show, update")
    ssub = student.add_subparsers(dest="action", required=True, parser_class=_Parser)
    add = ssub.add_parser("add", help="add one student")
    _add_dir(add)
    _student_fields(add, required=True)
    add.add_argument("--synthetic-photo", action="store_true",
                     help="generate a portrait when --photo is not given")
    add.add_argument("--iss", help="university of DIR (default: the first)")
    _add_now(add)
    imp = ssub.add_parser("import", help="add the students of a CSV file (all or none)")
    _add_dir(imp)
    imp.add_argument("csv", metavar="FILE.csv", type=Path)
    imp.add_argument("--iss", help="university of DIR (default: the first)")
    _add_now(imp)
    lst = ssub.add_parser("list", help="ids, album numbers, status, eligibility")
    _add_dir(lst)
    _add_now(lst)
    show = ssub.add_parser("show", help="one student's record, eligibility and credentials")
    _add_dir(show)
    show.add_argument("id", type=int, metavar="ID")
    _add_now(show)
    upd = ssub.add_parser("update", help="change a record; leaving 'active' revokes")
    _add_dir(upd)
    upd.add_argument("id", type=int, metavar="ID")
    _student_fields(upd, required=False)
    upd.add_argument("--reissue-els", action="store_true",
                     help="a new ELS was issued now (after a change of personal data)")
    upd.add_argument("--extend-els", action="store_true",
                     help="extend the ELS for the next semester (31 March / 31 October)")
    _add_now(upd)

    order = sub.add_parser("order", help="order an mLegitymacja: activation code and QR")
    _add_dir(order)
    order.add_argument("id", type=int, metavar="STUDENT_ID")
    order.add_argument("--qr-png", type=Path, metavar="FILE", help="write the activation QR")
    _add_now(order)

    activate = sub.add_parser("activate", help="activate on a simulated phone (a wallet file)")
    _add_dir(activate)
    activate.add_argument("--code", required=True, help="activation code or QR text")
    activate.add_argument("--wallet", required=True, type=Path, metavar="WALLET.json")
    activate.add_argument("--force", action="store_true",
                          help="replace an existing wallet file (its credential is lost)")
    _add_now(activate)

    extend = sub.add_parser("extend", help="a new credential after the ELS was extended")
    _add_dir(extend)
    extend.add_argument("--wallet", required=True, type=Path, metavar="WALLET.json")
    _add_now(extend)

    keys = sub.add_parser("keys", help="university signing keys")
    ksub = keys.add_subparsers(dest="action", required=True, parser_class=_Parser)
    rotate = ksub.add_parser("rotate", help="new signing key; old keys listed until unused")
    _add_dir(rotate)
    rotate.add_argument("--iss", help="university of DIR (default: the first)")
    _add_now(rotate)
    klist = ksub.add_parser("list", help="keys, their windows, and whether they are listed")
    _add_dir(klist)
    _add_now(klist)

    issue = sub.add_parser("issue", help="shortcut: a credential without a student record")
    _add_dir(issue)
    issue.add_argument("--given-names", required=True)
    issue.add_argument("--family-name", required=True)
    issue.add_argument("--birth-date", required=True, metavar="YYYY-MM-DD")
    issue.add_argument("--album", required=True)
    issue.add_argument("--photo", type=Path, metavar="IMAGE", help="as for student add")
    issue.add_argument("--exp", type=int, metavar="EPOCH", help="default: end of the semester")
    issue.add_argument("--iss", help="which issuer of DIR signs (default: the first)")
    issue.add_argument("--wallet", required=True, type=Path, metavar="WALLET.json")
    issue.add_argument("--force", action="store_true",
                       help="replace an existing wallet file (its credential is lost)")
    _add_now(issue)

    present = sub.add_parser("present", help="print a wallet's QR text (and write a PNG)")
    present.add_argument("wallet", metavar="WALLET.json", type=Path)
    present.add_argument("--png", type=Path, metavar="FILE")
    _add_now(present)

    revoke = sub.add_parser("revoke", help="revoke a credential and republish at once")
    _add_dir(revoke)
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--cti", metavar="HEX", help="credential id, 32 hex digits")
    which.add_argument("--wallet", type=Path, metavar="WALLET.json")
    revoke.add_argument("--reason", default="issuer", help="recorded with the revocation")
    _add_now(revoke)

    publish = sub.add_parser("publish", help="sign and write DIR/public/*.cbor anew")
    _add_dir(publish)
    _add_now(publish)

    serve = sub.add_parser("serve", help="lists, the HTTP API and the web wallet")
    _add_dir(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--republish-every", type=int, default=3600, metavar="SECONDS")
    serve.add_argument("--tls-cert", type=Path, metavar="PEM",
                       help="serve HTTPS (phones need it for the web wallet's WebCrypto)")
    serve.add_argument("--tls-key", type=Path, metavar="PEM", help="the certificate's key")

    testset = sub.add_parser("make-testset", help="QR texts and images for every verdict")
    testset.add_argument("dir", metavar="OUT_DIR", type=Path)
    testset.add_argument("--seed", default="ml1-testset", help="same seed, same bytes")
    testset.add_argument("--no-png", action="store_true", help="texts and manifest only")

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
    if args.command == "serve" and (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    return args


# Output -----------------------------------------------------------------------------------------
def _published(p: Published | None, out: TextIO) -> None:
    if p is None:
        return
    if p.trust_seq is not None:
        out.write(f"trust list seq {p.trust_seq} published\n")
    out.write(f"revocation list seq {p.revocation_seq} published ({p.revoked} ids)\n")


def _day(epoch: int | None) -> str:
    """A moment: ``2027-04-01 00:00 CEST`` (issuer_stub.timefmt)."""
    return moment(epoch)


def _issued(issued: Issued, wallet: Path, out: TextIO) -> None:
    for cti in issued.revoked:
        out.write(f"credential {cti.hex()} revoked (superseded)\n")
    # exp is the end of the last valid day: print that day, as the verifier shows it.
    out.write(f"credential {issued.cti.hex()} valid until {last_valid_day(issued.exp)} "
              f"(inclusive) written to {wallet}\n")
    _published(issued.published, out)


# Inputs -----------------------------------------------------------------------------------------
def _may_write_wallet(path: Path, force: bool) -> None:
    """Refuse, before anything is used up, to overwrite a wallet (another phone's key)."""
    if force or not path.exists():
        return
    if path.is_dir():
        raise InvalidInput(f"{path} is a folder; give a file name for the wallet", "bad_wallet")
    raise InvalidInput(
        f"{path} exists already and holds another wallet; choose another file name, or pass "
        "--force to replace it (its credential can then no longer be presented)",
        "wallet_exists",
    )


def _read_photo(path: Path) -> bytes:
    """A photo file to make the portrait from (``photos.portrait_for``)."""
    from issuer_stub.students import check_photo

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read photo {path}: {exc.strerror}") from None
    return check_photo(data)


def _els_issued(value: str, now: int) -> int:
    if value == "today":
        return now
    if value.isdigit():
        return int(value)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("--els-issued must be YYYY-MM-DD or epoch seconds") from None
    return int(datetime(day.year, day.month, day.day, tzinfo=warsaw()).timestamp())


def _fields(args: argparse.Namespace, now: int) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in ("given_names", "family_name", "birth_date", "pesel", "album", "status",
                 "els_valid_until"):
        if getattr(args, name) is not None:
            fields[name] = getattr(args, name)
    if args.photo is not None:
        try:
            fields["photo"] = args.photo.read_bytes()  # checked with the other fields
        except OSError as exc:
            raise InvalidInput(f"cannot read photo {args.photo}: {exc.strerror}") from None
    if args.els_issued is not None:
        fields["els_issued_at"] = _els_issued(args.els_issued, now)
    if fields.get("els_valid_until") == "next":
        fields["els_valid_until"] = following_semester_end(None, now).isoformat()
    return fields


# Commands ---------------------------------------------------------------------------------------
def _student(args: argparse.Namespace, office: Office, now: int, out: TextIO) -> int:
    if args.action == "add":
        fields = _fields(args, now)
        if "photo" not in fields and args.synthetic_photo:
            from issuer_stub.photos import synthetic_photo

            fields["photo"] = synthetic_photo(f"{args.given_names} {args.family_name}")
        out.write(f"student {office.add_student(fields, now, args.iss)} added\n")
    elif args.action == "import":
        ids = office.import_csv(args.csv, now, args.iss)
        span = f" (ids {ids[0]}-{ids[-1]})" if len(ids) > 1 else f" (id {ids[0]})" if ids else ""
        out.write(f"{len(ids)} {'student' if len(ids) == 1 else 'students'} imported{span}\n")
    elif args.action == "list":  # the university's own tool: names yes, the PESEL never
        out.write(f"{'id':>5}  {'name':<30} {'album':<12} {'status':<10} eligible\n")
        for s in office.students():
            failed = failures(s, now)
            verdict = "yes" if not failed else "no: " + ", ".join(f.condition for f in failed)
            name = f"{s.given_names} {s.family_name}"
            out.write(f"{s.id:>5}  {name:<30} {s.album or '-':<12} {s.status:<10} {verdict}\n")
    elif args.action == "show":
        s = office.student(args.id)
        out.write(
            f"student {s.id} ({s.iss})\n"
            f"  name:        {s.given_names} {s.family_name}\n"
            f"  born:        {s.birth_date}\n"
            f"  PESEL:       {'on file (not shown)' if s.pesel else 'missing'}\n"
            f"  album:       {s.album or 'missing'}\n"
            f"  status:      {s.status}\n"
            f"  photo:       {f'{len(s.photo)} bytes' if s.photo else 'missing'}\n"
            f"  ELS:         issued {_day(s.els_issued_at)}, valid until "
            f"{s.els_valid_until + ' (inclusive)' if s.els_valid_until else '-'}\n"
            f"  data changed: {_day(s.data_changed_at)}\n"
        )
        failed = failures(s, now)
        out.write("  eligible:    yes\n" if not failed else "  eligible:    no\n")
        for f in failed:
            out.write(f"    - {f.condition}: {f.message}\n")
        for c in office.credentials(s.id):
            state = f"revoked ({c.revocation_reason})" if c.revoked else (
                "live" if c.live(now) else "expired")
            out.write(f"  credential {c.cti.hex()} valid until {last_valid_day(c.exp)} "
                      f"(inclusive): {state}\n")
    elif args.action == "update":
        fields = _fields(args, now)
        if args.extend_els:
            current = office.student(args.id)
            until = None if current.els_valid_until is None else date.fromisoformat(
                current.els_valid_until)
            fields["els_valid_until"] = following_semester_end(until, now).isoformat()
        updated, published = office.update_student(args.id, fields, now, args.reissue_els)
        out.write(f"student {updated.id} updated\n")
        _published(published, out)
    return EXIT_OK


def _keys(args: argparse.Namespace, registry: Registry, now: int, out: TextIO) -> int:
    if args.action == "rotate":
        rotation = registry.rotate_key(now, args.iss)
        for kid, exp in rotation.closed:
            out.write(f"key {kid.hex()} signs no more (window ends {_day(exp)})\n")
        out.write(f"new signing key {rotation.kid.hex()}\n")
        _published(rotation.published, out)
    else:
        with registry.reader() as store:
            listed = {k.kid for k in registry.listed_keys(store, now)}
            for k in store.issuer_keys():
                state = "listed" if k.kid in listed else "not listed"
                out.write(f"{k.kid.hex()}  {k.iss:<10} {_day(k.nbf)} .. {_day(k.exp)}  {state}\n")
    return EXIT_OK


def run(args: argparse.Namespace, out: TextIO) -> int:
    now = getattr(args, "now", None)
    now = SystemClock().now() if now is None else now
    if args.command == "present":
        wallet = Wallet.load(args.wallet)
        if wallet.credential is None:
            raise InvalidInput("this wallet holds no credential")
        out.write(wallet.present(now) + "\n")
        if args.png is not None:
            wallet.present_png(now, args.png)
        return EXIT_OK
    if args.command == "make-testset":
        from issuer_stub.testset import write_testset

        manifest = write_testset(args.dir, args.seed, png=not args.no_png)
        out.write(f"{len(manifest['cases'])} cases written to {args.dir}\n")
        return EXIT_OK
    registry = Registry(args.dir)
    office = Office(registry)
    if args.command == "init":
        _published(registry.init(args.iss, args.name, now), out)
        out.write(f"give verifiers the trust anchor: {registry.anchor_path}\n")
        out.write(f"admin API token (keep it secret): {registry.token_path}\n")
    elif args.command == "student":
        return _student(args, office, now, out)
    elif args.command == "keys":
        return _keys(args, registry, now, out)
    elif args.command == "order":
        issued = office.order(args.id, now)
        out.write(f"activation code: {issued.code}\nactivation QR text: {issued.qr_text}\n"
                  f"the code works once, until {_day(issued.expires_at)}\n")
        if args.qr_png is not None:
            render_png(issued.qr_text, args.qr_png)
            out.write(f"activation QR written to {args.qr_png}\n")
    elif args.command == "activate":
        _may_write_wallet(args.wallet, args.force)
        wallet = Wallet.new()
        activation = office.activate(args.code, wallet.public_key, now)
        wallet.credential = activation.credential
        wallet.save(args.wallet)
        _issued(activation, args.wallet, out)
    elif args.command == "extend":
        wallet = Wallet.load(args.wallet)
        extension = office.extend(cti_of_wallet(wallet), now)
        wallet.credential = extension.credential
        wallet.save(args.wallet)
        _issued(extension, args.wallet, out)
    elif args.command == "issue":
        _may_write_wallet(args.wallet, args.force)
        with registry.reader() as store:
            iss = args.iss or registry.default_iss(store)
            uni = registry.university_name(store, iss)
        student = StudentData(
            given_names=args.given_names,
            family_name=args.family_name,
            birth_date=args.birth_date,
            university=uni,
            album=args.album,
        )
        if args.photo is not None:  # the portrait made from it, fitted to the fields
            from issuer_stub.photos import portrait_for

            student = portrait_for(_read_photo(args.photo), student, iss)
        exp = next_semester_end(now) if args.exp is None else args.exp
        wallet = registry.issue(student, now, exp, iss=iss)
        wallet.save(args.wallet)
        out.write(f"credential {cti_of_wallet(wallet).hex()} issued into {args.wallet}\n")
    elif args.command == "revoke":
        cti = args.cti if args.cti is not None else cti_of_wallet(Wallet.load(args.wallet))
        published = office.revoke(cti, now, args.reason)
        out.write(f"credential {cti.hex()} revoked\n")
        _published(published, out)
    elif args.command == "publish":
        _published(registry.publish(now), out)
    elif args.command == "serve":
        return _serve(registry, args, out)
    return EXIT_OK


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _serve(registry: Registry, args: argparse.Namespace, out: TextIO) -> int:
    from issuer_stub.server import ListServer, tls_context  # aiohttp only for this command

    registry.counters()  # fail early on a wrong directory (and import an older one)
    tls = tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    server = ListServer(registry, args.host, args.port, args.republish_every, ssl_context=tls,
                        access_log=True)
    # systemctl stop / kill: stop as Ctrl-C does (the previous handler is back afterwards)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    with _log_to_stderr(), contextlib.ExitStack() as restore:
        restore.callback(signal.signal, signal.SIGTERM, previous)
        try:
            url = server.start()
        except RuntimeError as exc:  # the port is taken, the address is not this machine's
            raise SetupError(f"cannot serve on {args.host}:{args.port} ({exc}); choose another "
                             "--port or --host") from None
        out.write(f"serving {registry.public_dir} at {url}/trustlist.cbor and "
                  "/revocations.cbor\n")
        out.write(f"API at {url}/api/, web wallet at {url}/wallet/\n")
        out.flush()
        try:
            server.wait()
        except KeyboardInterrupt:
            server.stop()
    return EXIT_OK


@contextlib.contextmanager
def _log_to_stderr() -> Iterator[None]:
    """Each request (aiohttp's access log) and each lifecycle event on stderr, one line each
    (the messages carry ids and codes, never a name or a PESEL); undone afterwards."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    loggers = [logging.getLogger(name) for name in ("issuer_stub", "aiohttp")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    """The one error path: every expected failure is one sentence on stderr and exit 2;
    anything else is a bug and keeps its traceback."""
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    try:
        return run(args, sys.stdout)
    except IssuerError as exc:
        print(f"issuer-stub: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a path the user named: missing, not writable, a full disk
        print(f"issuer-stub: {describe_os_error(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except ImportError as exc:
        print(f"issuer-stub: {exc.name} is needed for this command (pip install -e .)",
              file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
