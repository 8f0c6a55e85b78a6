"""Student data coming in (CLI, CSV, HTTP): validated and normalised before the store sees it.

Pure functions of their input and ``now``. Messages name the field, never its value: a PESEL
or a name must not end up in a log line.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from issuer_stub import pesel as pesel_rules
from issuer_stub.errors import InvalidInput
from issuer_stub.records import ACTIVE, STATUSES, StudentRecord
from verifier.core.credential import photo_format
from verifier.core.textout import warsaw

# A photo handed in: the issuer makes the credential's portrait from it (issuer_stub/photos.py).
MAX_PHOTO_INPUT_BYTES = 25 * 1024 * 1024
SEMESTER_ENDS = ((3, 31), (10, 31))  # an ELS is extended to 31 March or 31 October
PERSONAL_FIELDS = frozenset({"given_names", "family_name", "birth_date", "pesel", "photo"})
CSV_COLUMNS = ("given_names", "family_name", "birth_date", "pesel", "album", "status",
               "els_issued", "els_valid_until", "photo")
_ALBUM = re.compile(r"[A-Za-z0-9][A-Za-z0-9/._-]{0,31}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def check_photo(data: bytes) -> bytes:
    """A JPEG, PNG, WebP or AVIF file (by its first bytes) of at most 25 MiB: the photo the
    portrait is made from (the office does that; nothing is stored as it comes)."""
    if not (data.startswith(b"\x89PNG\r\n\x1a\n") or photo_format(data) is not None):
        raise InvalidInput("the photo must be a JPEG, PNG, WebP or AVIF image", "photo_type")
    if len(data) > MAX_PHOTO_INPUT_BYTES:
        raise InvalidInput(
            f"the photo file is {len(data)} bytes; at most {MAX_PHOTO_INPUT_BYTES} are read",
            "photo_size",
        )
    return data


def _name(field: str, value: object, limit: int = 100) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text", "invalid_input")
    text = unicodedata.normalize("NFC", value.strip())
    if not 1 <= len(text) <= limit or not text.isprintable():
        raise InvalidInput(f"{field} must be 1-{limit} printable characters", "invalid_input")
    return text


def parse_date(field: str, value: object) -> date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise InvalidInput(f"{field} must be a date written YYYY-MM-DD", "invalid_date")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{field} is not a calendar date", "invalid_date") from None


def _epoch(field: str, value: object, now: int) -> int:
    if type(value) is not int or not 0 <= value <= now:
        raise InvalidInput(f"{field} must be an epoch second not in the future", "invalid_date")
    return value


def _els_until(value: object) -> str:
    day = parse_date("els_valid_until", value)
    if (day.month, day.day) not in SEMESTER_ENDS:
        raise InvalidInput(
            "els_valid_until must be 31 March or 31 October (the semester validity dates)",
            "invalid_date",
        )
    return day.isoformat()


def _validate(fields: dict[str, Any], now: int) -> dict[str, Any]:
    """Check and normalise every field present; returns the store's column values."""
    out: dict[str, Any] = {}
    for key in ("given_names", "family_name"):
        if key in fields:
            out[key] = _name(key, fields[key])
    if "birth_date" in fields:
        dob = parse_date("birth_date", fields["birth_date"])
        if not date(1900, 1, 1) <= dob <= datetime.fromtimestamp(now, warsaw()).date():
            raise InvalidInput("birth_date must lie between 1900 and today", "invalid_date")
        out["birth_date"] = dob.isoformat()
    if fields.get("pesel") is not None:
        if not isinstance(fields["pesel"], str):
            raise InvalidInput("pesel must be text", "pesel_invalid")
        out["pesel"] = fields["pesel"].strip()
    elif "pesel" in fields:
        out["pesel"] = None
    if fields.get("album") is not None:
        album = fields["album"]
        if not isinstance(album, str) or not _ALBUM.fullmatch(album.strip()):
            raise InvalidInput(
                "album must be 1-32 letters, digits, '/', '.', '_' or '-'", "invalid_input"
            )
        out["album"] = album.strip()
    elif "album" in fields:
        out["album"] = None
    if "status" in fields:
        if fields["status"] not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", "invalid_input")
        out["status"] = fields["status"]
    if fields.get("photo") is not None:
        photo = fields["photo"]
        if not isinstance(photo, bytes):
            raise InvalidInput("photo must be image bytes", "photo_type")
        out["photo"] = check_photo(photo)
    elif "photo" in fields:
        out["photo"] = None
    if fields.get("els_issued_at") is not None:
        out["els_issued_at"] = _epoch("els_issued_at", fields["els_issued_at"], now)
    elif "els_issued_at" in fields:
        out["els_issued_at"] = None
    if fields.get("els_valid_until") is not None:
        out["els_valid_until"] = _els_until(fields["els_valid_until"])
    elif "els_valid_until" in fields:
        out["els_valid_until"] = None
    unknown = set(fields) - set(out)
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(sorted(unknown))}", "invalid_input")
    return out


def _cross_check(merged: Mapping[str, Any]) -> None:
    if merged.get("pesel") is not None:
        pesel_rules.validate(merged["pesel"], date.fromisoformat(merged["birth_date"]))
    if (merged.get("els_issued_at") is None) != (merged.get("els_valid_until") is None):
        raise InvalidInput(
            "an ELS record needs both els_issued_at and els_valid_until", "invalid_input"
        )


def new_student(fields: dict[str, Any], now: int) -> dict[str, Any]:
    """Column values for a new student; given_names, family_name, birth_date are required."""
    missing = [k for k in ("given_names", "family_name", "birth_date") if k not in fields]
    if missing:
        raise InvalidInput(f"missing fields: {', '.join(missing)}", "invalid_input")
    out = _validate(fields, now)
    out.setdefault("status", ACTIVE)
    _cross_check(out)
    return out


def changes(current: StudentRecord, fields: dict[str, Any], now: int,
            reissue_els: bool = False) -> dict[str, Any]:
    """Column values to write for an update. A change of personal data stamps
    ``data_changed_at``; ``reissue_els`` records a new ELS issued ``now``."""
    out = _validate(fields, now)
    out = {k: v for k, v in out.items() if getattr(current, k) != v}
    if reissue_els:
        out["els_issued_at"] = now
    if PERSONAL_FIELDS & set(out):
        out["data_changed_at"] = now
    merged = {k: getattr(current, k) for k in ("birth_date", "pesel", "els_issued_at",
                                                "els_valid_until")}
    merged.update(out)
    _cross_check(merged)
    return out


# CSV import ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CsvRow:
    line: int
    fields: dict[str, Any]


def _els_issued(value: str) -> int:
    if value.isdigit():
        return int(value)
    day = parse_date("els_issued", value)
    return int(datetime(day.year, day.month, day.day, tzinfo=warsaw()).timestamp())


MAX_REPORTED = 50  # bad rows listed in one message; the rest are counted


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """Comma or semicolon (what a Polish spreadsheet saves), told by the header line."""
    header = text.split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(header, delimiters=",;\t")
    except csv.Error:
        return csv.excel


def read_csv(text: str, base: Path, now: int) -> tuple[list[CsvRow], list[tuple[int, str]]]:
    """Every good row of a students CSV and ``(line, message)`` for each bad row.

    Header: any of ``CSV_COLUMNS``, the first three required; comma, semicolon or tab
    separated. ``photo`` is an image path relative to ``base``; empty gives a synthetic portrait.
    ``els_issued`` is YYYY-MM-DD (start of that day, Warsaw) or epoch seconds.
    """
    from issuer_stub.photos import synthetic_photo  # OpenCV only for this command

    dialect = _dialect(text)
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    unknown = set(header) - set(CSV_COLUMNS)
    if unknown or not {"given_names", "family_name", "birth_date"} <= set(header):
        separator = {",": "commas", ";": "semicolons", "\t": "tabs"}.get(dialect.delimiter,
                                                                         repr(dialect.delimiter))
        raise InvalidInput(
            f"line 1: the CSV header must hold given_names, family_name, birth_date and may "
            f"hold {', '.join(CSV_COLUMNS[3:])}, separated by commas or semicolons "
            f"(read as {separator}: {', '.join(repr(h) for h in header[:12]) or 'nothing'})",
            "invalid_csv",
        )
    rows: list[CsvRow] = []
    errors: list[tuple[int, str]] = []
    for raw in reader:
        line = reader.line_num
        try:
            if None in raw:  # more cells than the header has
                raise InvalidInput(f"{len(header) + len(raw[None])} cells, the header has "
                                   f"{len(header)}", "invalid_csv")
            if any(v is None for v in raw.values()):  # fewer: a truncated row
                cells = sum(v is not None for v in raw.values())
                raise InvalidInput(f"only {cells} of the header's {len(header)} cells "
                                   "(a truncated row?)", "invalid_csv")
            cells = {k: (v or "").strip() for k, v in raw.items()}
            fields: dict[str, Any] = {
                k: cells[k] for k in ("given_names", "family_name", "birth_date")
            }
            for key in ("pesel", "album", "els_valid_until"):
                fields[key] = cells.get(key) or None
            fields["status"] = cells.get("status") or ACTIVE
            if cells.get("els_issued"):
                fields["els_issued_at"] = _els_issued(cells["els_issued"])
            if cells.get("photo"):
                try:
                    fields["photo"] = (base / cells["photo"]).read_bytes()
                except OSError as exc:
                    message = f"cannot read photo: {exc.strerror}"
                    raise InvalidInput(message, "invalid_csv") from None
            else:
                seed = cells.get("album") or f"line {line}"
                fields["photo"] = synthetic_photo(seed)
            rows.append(CsvRow(line, new_student(fields, now)))
        except InvalidInput as exc:
            errors.append((line, exc.message))
    return rows, errors


def csv_errors(errors: list[tuple[int, str]], path: Path) -> str:
    """One message listing the bad rows by line (at most MAX_REPORTED), nothing imported."""
    rows = "row" if len(errors) == 1 else "rows"
    shown = [f"line {line}: {message}" for line, message in sorted(errors)[:MAX_REPORTED]]
    more = len(errors) - len(shown)
    tail = f"\n  ... and {more} more" if more else ""
    return (f"{len(errors)} {rows} of {path} must be fixed; nothing was imported:\n  "
            + "\n  ".join(shown) + tail)
