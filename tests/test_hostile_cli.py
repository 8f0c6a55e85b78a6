"""Hostile input at the command line: image bombs, far-future dates, bytes that are not UTF-8,
huge and oddly ended lines on standard input (issue 12, items 1, 3, 6 and 8)."""

from __future__ import annotations

import io
import json
import os
import re
import struct
import subprocess
import sys
import zlib
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from issuer_stub.keystore import public_pem
from tests.conftest import NOW, REPO, World
from verifier.commands.check import stdin_lines
from verifier.commands.cli import main
from verifier.core.credential import MAX_TEXT_LENGTH
from verifier.core.reasons import Reason, Verdict
from verifier.core.result import CheckResult, CredentialInfo, Holder
from verifier.core.textout import day_text, escaped, last_valid_day, local_day, result_line
from verifier.imaging.decoding import MAX_IMAGE_PIXELS, load_gray
from verifier.ui.view import verdict_view

UINT64_MAX = 2**64 - 1
FAST = settings(max_examples=300, deadline=None, derandomize=True)


# Item 1: image files whose header declares a huge picture -------------------------------------
def png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpeg_declaring(width: int, height: int) -> bytes:
    """A few hundred bytes: quantisation and Huffman tables, a frame header, a little scan."""
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes([1] * 64)
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    dht = b"".join(
        b"\xff\xc4" + struct.pack(">H", 20) + table + bytes([0, 1] + [0] * 14) + b"\x00"
        for table in (b"\x00", b"\x10")
    )
    sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00" + b"\x00\x3f\x00"
    return b"\xff\xd8" + dqt + sof + dht + sos + b"\x00" * 180 + b"\xff\xd9"


@pytest.mark.parametrize("make", [png_declaring, jpeg_declaring])
@pytest.mark.parametrize("size", [(65000, 65000), (30000, 30000), (8000, 6000), (65535, 1)])
def test_an_image_declaring_a_huge_size_is_refused_before_decoding(
    tmp_path: Path, make, size: tuple[int, int]
) -> None:
    path = tmp_path / "bomb.img"
    path.write_bytes(make(*size))
    with pytest.raises(Exception, match=r"megapixels an image may have") as info:
        load_gray(path)
    assert type(info.value).__name__ == "ConfigError"


def test_check_and_decode_on_a_bomb_exit_2_with_one_line(tmp_path: Path, capsys) -> None:
    bomb = tmp_path / "bomb.jpg"
    bomb.write_bytes(jpeg_declaring(65000, 65000))
    assert len(bomb.read_bytes()) < 400
    world = World()
    anchor, tl = tmp_path / "anchor.pem", tmp_path / "tl.cbor"
    anchor.write_bytes(public_pem(world.ministry.key.public_key()))
    tl.write_bytes(world.ministry.trust_list(iat=NOW - 3600))
    argv = ["check", "--anchor", str(anchor), "--trust-list", str(tl), "--no-revocation-list"]
    assert main([*argv, str(bomb)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "megapixels" in err and "Traceback" not in err
    assert main(["decode", str(bomb)]) == 2
    assert capsys.readouterr().err.count("megapixels") == 1


def test_an_ordinary_image_within_the_bounds_still_loads(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    path = tmp_path / "ok.png"
    path.write_bytes(cv2.imencode(".png", np.zeros((6, 8), np.uint8))[1].tobytes())
    assert load_gray(path).shape == (6, 8)
    assert MAX_IMAGE_PIXELS >= 5472 * 3648  # a 20 MP phone photo of a code is still read


@FAST
@given(st.data())
def test_mutated_image_headers_load_or_are_refused_in_one_sentence(tmp_path_factory, data):
    import cv2
    import numpy as np

    kind = data.draw(st.sampled_from([".png", ".jpg", ".webp", ".bmp"]))
    raw = bytearray(cv2.imencode(kind, np.full((16, 24), 200, np.uint8))[1].tobytes())
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, min(len(raw) - 1, 80)))  # the header, mostly
        raw[pos] = data.draw(st.integers(0, 255))
    path = tmp_path_factory.mktemp("img") / f"m{kind}"
    path.write_bytes(bytes(raw))
    # A smaller bound here only keeps the test quick: a mutated size may declare the most
    # allowed, which libpng then decodes for seconds from a few bytes.
    with mock.patch("verifier.imaging.decoding.MAX_IMAGE_PIXELS", 100_000):
        try:
            gray = load_gray(path)
        except Exception as exc:
            assert type(exc).__name__ == "ConfigError" and "\n" not in str(exc)
        else:
            assert gray.ndim == 2 and gray.size <= 100_000


# Item 3: every uint renders ---------------------------------------------------------------------
def test_far_future_dates_render() -> None:
    assert last_valid_day(253402297200) == "9999-12-31"  # the last day datetime itself holds
    assert last_valid_day(253402297201) == "10000-01-01"
    assert last_valid_day(UINT64_MAX) == "584554051223-11-09"
    assert last_valid_day(0) == "1970-01-01"


@FAST
@given(st.integers(0, UINT64_MAX))
def test_day_text_is_total_over_every_uint(epoch: int) -> None:
    assert re.fullmatch(r"[0-9]{4,12}-[0-9]{2}-[0-9]{2}", day_text(epoch))


@FAST
@given(
    st.integers(13569465600, 230000000000),  # 2400-01-01 .. about 9258: datetime's own range
    st.integers(-1000, 10**9),
)
def test_far_dates_follow_the_400_year_cycle(epoch: int, cycles: int) -> None:
    """Past datetime's range the day is computed by whole 400-year cycles: check that shift
    against datetime itself where both can be computed (``cycles`` may be negative)."""
    year, month, day = local_day(epoch)
    shifted = epoch + cycles * 146097 * 86400
    assert local_day(shifted) == (year + 400 * cycles, month, day)


def test_the_cycle_agrees_with_datetime_near_its_end() -> None:
    zone = datetime(2000, 1, 1, tzinfo=UTC).astimezone().tzinfo  # any fixed zone will do
    for epoch in (253402297199 - 86400 * 3, 200000000000, 13569465600):
        assert local_day(epoch, UTC) == datetime.fromtimestamp(epoch, UTC).timetuple()[:3]
        assert local_day(epoch, zone) == datetime.fromtimestamp(epoch, zone).timetuple()[:3]


HOLDER = Holder("Anna", "Nowak", "2003-01-02", "Uczelnia", "A-12345")


@FAST
@given(
    st.integers(0, UINT64_MAX),
    st.integers(0, UINT64_MAX),
    st.integers(0, UINT64_MAX),
    st.integers(0, UINT64_MAX),
    st.sampled_from(list(Verdict)),
)
def test_every_renderer_is_total_over_the_claims(
    exp: int, nbf: int, iat: int, time: int, verdict: Verdict
) -> None:
    info = CredentialInfo("PL-1", "Uczelnia", b"k" * 8, b"c" * 16, iat, nbf, exp, time)
    reason = None if verdict is not Verdict.INVALID else Reason.EXPIRED
    result = CheckResult(verdict, reason, holder=HOLDER, credential=info)
    line = result_line(result, "en")
    assert ("expiry date" if verdict is Verdict.INVALID else "valid until") in line
    for lang in ("en", "pl"):
        until = verdict_view(result, NOW, lang).valid_until
        # Rendered for every uint; not shown under a refusal (issue 14: no "valid until"
        # under INVALID for a revoked or expired card).
        assert until if verdict is not Verdict.INVALID else until is None
    json.loads(json.dumps(result.to_json()))


def test_a_far_future_credential_renders_in_plain_check_output(world: World, tmp_path, capsys):
    anchor, tl = tmp_path / "anchor.pem", tmp_path / "tl.cbor"
    anchor.write_bytes(public_pem(world.ministry.key.public_key()))
    tl.write_bytes(world.ministry.trust_list(iat=NOW - 3600))
    text = world.wallet(exp=UINT64_MAX).present(NOW)
    argv = ["check", "--anchor", str(anchor), "--trust-list", str(tl), "--no-revocation-list",
            "--now", str(NOW), "--text", text]
    main(argv)
    out = capsys.readouterr().out
    assert "valid until 584554051223-11-09" in out


# Items 6 and 8: standard input as bytes -----------------------------------------------------------
def test_lines_end_at_lf_crlf_and_cr_and_are_never_held_whole() -> None:
    data = b"a\r\nb\rc\n\n\rd" + b"x" * 100 + b"\ne"
    lines = list(stdin_lines(io.BytesIO(data), limit=10))
    assert lines == [("a", False), ("b", False), ("c", False), ("dxxxxxxxxxx", True), ("e", False)]


class _Trickle(io.RawIOBase):
    """A pipe handing out one byte per read (a scanner typing, or a CR LF split across reads)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def readable(self) -> bool:
        return True

    def read1(self, size: int = -1) -> bytes:
        byte, self.data = self.data[:1], self.data[1:]
        return byte


@FAST
@given(st.lists(st.text(alphabet="AB \xff", min_size=1, max_size=8), max_size=6),
       st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=6, max_size=6))
def test_line_splitting_does_not_depend_on_how_the_bytes_arrive(lines, ends) -> None:
    data = "".join(line + end for line, end in zip(lines, ends, strict=False)).encode("latin-1")
    whole = list(stdin_lines(io.BytesIO(data)))
    assert list(stdin_lines(_Trickle(data))) == whole
    assert [text for text, _ in whole] == [
        line.encode("latin-1").decode("utf-8", "replace") for line in lines
    ]


def _files(world: World, tmp_path: Path) -> list[str]:
    anchor, tl, rl = tmp_path / "anchor.pem", tmp_path / "tl.cbor", tmp_path / "rl.cbor"
    anchor.write_bytes(public_pem(world.ministry.key.public_key()))
    tl.write_bytes(world.ministry.trust_list(iat=NOW - 3600))
    rl.write_bytes(world.ministry.revocation_list(iat=NOW - 600))
    return ["--anchor", str(anchor), "--trust-list", str(tl), "--revocation-list", str(rl),
            "--now", str(NOW)]


def _run(argv: list[str], stdin: bytes, locale: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG"))}
    env.update(LC_ALL=locale, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "verifier.commands.cli", *argv],
        input=stdin, capture_output=True, env=env, timeout=120, check=False,
    )


@pytest.mark.parametrize("locale", ["C", "C.UTF-8"])
def test_bad_bytes_on_stdin_spoil_only_their_own_line(world: World, tmp_path, locale) -> None:
    good = world.wallet().present(NOW).encode()
    stdin = good + b"\n\xff\xfe\n" + b"ML1:\xff" + b"\r" + "ML1:Zażółć\u2028".encode() + b"\r\n"
    stdin += good + b"\r"
    proc = _run(["check", *_files(world, tmp_path), "--json", "-"], stdin, locale)
    assert proc.returncode == 1, proc.stderr
    proc.stdout.decode("ascii")  # ASCII only: valid UTF-8 whatever the locale
    rows = [json.loads(line) for line in proc.stdout.split(b"\n") if line]
    assert len(rows) == proc.stdout.count(b"\n") == 5  # one line per code, U+2028 escaped
    assert [(r["verdict"], r["reason"]) for r in rows] == [
        ("valid", None), ("invalid", "unknown_format"), ("invalid", "malformed"),
        ("invalid", "malformed"), ("valid", None),
    ]
    assert rows[3]["input"] == "ML1:Zażółć\u2028"
    text = _run(["check", *_files(world, tmp_path), "-"], stdin, locale)
    assert text.returncode == 1 and len(text.stdout.splitlines()) == 5


@pytest.mark.parametrize("locale", ["C", "C.UTF-8"])
def test_a_lone_surrogate_in_argv_does_not_crash(world: World, tmp_path, locale) -> None:
    argv = ["check", *_files(world, tmp_path), "--json", "--text", "ML1:\udcff"]
    env = {**os.environ, "LC_ALL": locale, "PYTHONPATH": str(REPO)}
    raw = [os.fsencode(a) if "\udcff" in a else a for a in argv]
    proc = subprocess.run([sys.executable, "-m", "verifier.commands.cli", *raw],
                          capture_output=True, env=env, timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr
    row = json.loads(proc.stdout.decode("ascii"))
    assert row["reason"] == "malformed" and row["input"] == "ML1:\ufffd"
    plain = [a for a in raw if a != "--json"]
    proc = subprocess.run([sys.executable, "-m", "verifier.commands.cli", *plain],
                          capture_output=True, env=env, timeout=120, check=False)
    assert proc.returncode == 1 and proc.stdout.startswith(b"INVALID | malformed")


def test_a_huge_line_is_malformed_and_not_echoed(world: World, tmp_path, capsys, monkeypatch):
    good = world.wallet().present(NOW)
    huge = "ML1:" + "A" * (8 * 1024 * 1024)
    stdin = io.BytesIO(f"{huge}\n{good}\n".encode())
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(stdin))
    assert main(["check", *_files(world, tmp_path), "--json", "-"]) == 1
    out = capsys.readouterr().out
    assert len(out) < 4 * MAX_TEXT_LENGTH
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["reason"] for r in rows] == ["malformed", None]
    assert rows[0]["input"].endswith("…") and len(rows[0]["input"]) < 100


def test_empty_stdin_is_a_usage_error(world: World, tmp_path, capsys, monkeypatch) -> None:
    for stdin in (b"", b"\n\r\n\r"):
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        assert main(["check", *_files(world, tmp_path), "-"]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and "no code to check" in captured.err


def test_decode_shows_escape_sequences_in_a_code_instead_of_obeying_them(tmp_path) -> None:
    assert escaped("a\x1b[2J\nb\u202ec") == "a\\x1b[2J\\x0ab\\u202ec"
    import segno

    from verifier.commands.decode import run_decode

    path = tmp_path / "evil.png"
    segno.make_qr("\x1b[2J\x1b]0;owned\x07\nML1:FAKE", error="m").save(str(path), scale=6)
    out = io.StringIO()
    assert run_decode([str(path)], False, out, io.StringIO()) == 0
    printed = out.getvalue()
    # zxing-cpp already names controls (<ESC>); escaped() is the last line of defence
    assert not any(c in printed for c in "\x1b\x07\r") and printed.count("\n") == 2
    assert "ML1:FAKE" in printed
