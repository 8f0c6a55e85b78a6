"""verify(): QR text -> verdict, exactly the checks, order and codes of ML1 section 6.

A pure function of its arguments: no clock, no files, no network. It never raises on bad
input; every failure becomes a reason code.
"""

from __future__ import annotations

from verifier.core.cose import ALG_ES256, verify_es256
from verifier.core.credential import Presentation, parse_presentation
from verifier.core.errors import FormatError, SignatureError
from verifier.core.reasons import CLOCK_WARNINGS, Reason, Verdict, WarningCode
from verifier.core.result import CheckResult, CredentialInfo, Holder, invalid
from verifier.core.revocation import RevocationList
from verifier.core.trustlist import IssuerEntry, TrustList

DEFAULT_WINDOW = 90
REVOCATION_MAX_AGE = 24 * 3600


def _is_es256(alg: object) -> bool:
    return type(alg) is int and alg == ALG_ES256


def _holder_and_info(p: Presentation, entry: IssuerEntry) -> tuple[Holder, CredentialInfo]:
    c, s = p.credential, p.credential.student
    holder = Holder(s.given_names, s.family_name, s.birth_date, s.university, s.album, s.photo)
    info = CredentialInfo(
        iss=c.iss,
        issuer_name=entry.name,
        kid=c.kid,
        cti=c.cti,
        iat=c.iat,
        nbf=c.nbf,
        exp=c.exp,
        presented_at=p.time,
    )
    return holder, info


def list_warnings(
    trust_list: TrustList,
    revocations: RevocationList | None,
    now: int,
    clock_synchronized: bool = True,
) -> tuple[WarningCode, ...]:
    """Warnings about the verifier's own data and clock, sorted (section 6)."""
    found = set()
    if not clock_synchronized:
        found.add(WarningCode.CLOCK_UNSYNCHRONIZED)
    if revocations is None:
        found.add(WarningCode.REVOCATION_LIST_MISSING)
    else:
        if now - revocations.iat > REVOCATION_MAX_AGE:
            found.add(WarningCode.REVOCATION_LIST_STALE)
        if now < revocations.iat:
            found.add(WarningCode.CLOCK_BEHIND)
    if now < trust_list.iat:
        found.add(WarningCode.CLOCK_BEHIND)
    return tuple(sorted(found))


def verify(
    text: str,
    trust_list: TrustList,
    revocations: RevocationList | None,
    now: int,
    window: int = DEFAULT_WINDOW,
    *,
    clock_synchronized: bool = True,
) -> CheckResult:
    """Check one QR text at time ``now`` (epoch seconds).

    ``clock_synchronized``: whether the caller's clock has been set (NTP since boot, or a
    battery-backed clock). With an unverified clock (not synchronized, or behind the lists)
    no honest student is refused for it and nothing is ``valid`` (section 6.1): the
    not-yet-valid check and the "made in the future" half of the freshness check pass,
    and a code that passes everything is ``warning``.
    """
    passed: list[tuple[Reason, bool]] = []
    warnings = list_warnings(trust_list, revocations, now, clock_synchronized)
    clock_unverified = not CLOCK_WARNINGS.isdisjoint(warnings)

    def fail(reason: Reason, detail: str | None = None, **kwargs: object) -> CheckResult:
        return invalid(reason, detail, checks=(*passed, (reason, False)), **kwargs)  # type: ignore[arg-type]

    # 1-2: format and structure
    if not isinstance(text, str):
        return fail(Reason.UNKNOWN_FORMAT, "input is not text")
    try:
        p = parse_presentation(text)
    except FormatError as exc:
        if exc.reason is Reason.UNKNOWN_FORMAT:
            return fail(Reason.UNKNOWN_FORMAT, exc.message)
        passed.append((Reason.UNKNOWN_FORMAT, True))
        return fail(Reason.MALFORMED, exc.message)
    except RecursionError:  # belt and braces: the decoder caps depth well below this
        passed.append((Reason.UNKNOWN_FORMAT, True))
        return fail(Reason.MALFORMED, "nesting too deep")
    passed += [(Reason.UNKNOWN_FORMAT, True), (Reason.MALFORMED, True)]
    cred = p.credential

    # 3: algorithm allow-list, both layers
    if not (_is_es256(p.message.alg) and _is_es256(cred.message.alg)):
        return fail(Reason.UNSUPPORTED_ALGORITHM)
    passed.append((Reason.UNSUPPORTED_ALGORITHM, True))

    # 4-5: issuer known, issuer signature
    entry = trust_list.find(cred.kid)
    if entry is None:
        return fail(Reason.UNKNOWN_ISSUER, f"kid {cred.kid.hex()} is not on the trust list")
    passed.append((Reason.UNKNOWN_ISSUER, True))
    try:
        verify_es256(entry.key, cred.message)
    except SignatureError as exc:
        return fail(Reason.BAD_SIGNATURE, exc.message)
    passed.append((Reason.BAD_SIGNATURE, True))

    # From here the credential is authentic: its holder may be shown with any verdict.
    holder, info = _holder_and_info(p, entry)
    ordered_checks: tuple[tuple[Reason, bool], ...] = (
        (Reason.ISSUER_MISMATCH, cred.iss == entry.iss),
        (Reason.ISSUER_KEY_EXPIRED, entry.nbf <= cred.iat < entry.exp),
        (Reason.NOT_YET_VALID, clock_unverified or now >= cred.nbf),
        (Reason.EXPIRED, now < cred.exp),
        (Reason.REVOKED, revocations is None or cred.cti not in revocations),
    )
    for reason, ok in ordered_checks:
        if not ok:
            return fail(reason, holder=holder, credential=info)
        passed.append((reason, True))

    # 11: the presentation was signed by the phone the credential is bound to
    try:
        verify_es256(cred.device_key, p.message)
    except SignatureError as exc:
        return fail(Reason.BAD_DEVICE_SIGNATURE, exc.message, holder=holder, credential=info)
    passed.append((Reason.BAD_DEVICE_SIGNATURE, True))

    # 12: made just now (by an unverified clock, only "too old" can be told)
    age = now - p.time
    if age > window or (age < -window and not clock_unverified):
        return fail(
            Reason.PRESENTATION_STALE,
            f"made {now - p.time:+d} s from now",
            holder=holder,
            credential=info,
        )
    passed.append((Reason.PRESENTATION_STALE, True))

    return CheckResult(
        verdict=Verdict.WARNING if warnings else Verdict.VALID,
        warnings=warnings,
        holder=holder,
        credential=info,
        checks=tuple(passed),
    )
