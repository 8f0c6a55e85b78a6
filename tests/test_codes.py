"""Small codes (ML1 revision 2): what the issuer stub makes fits QR version 27 at level M with a
photo, version 15 without (usual name lengths), whatever zlib the phone uses; portraits are made
from any ordinary photo and never passed through; nothing that would fit no QR code is issued."""

from __future__ import annotations

import io
import random
import zlib
from dataclasses import replace
from pathlib import Path

import cbor2
import numpy as np
import pytest
import segno
from PIL import Image

from issuer_stub import codesize, photos
from issuer_stub.authority import University
from issuer_stub.cli import main
from issuer_stub.errors import InvalidInput
from issuer_stub.registry import Registry
from issuer_stub.signing import StudentData
from issuer_stub.wallet import Wallet
from tests.test_issuer_lifecycle import NOW, Issuer, student_fields
from verifier.core.base45 import b45decode
from verifier.core.credential import parse_credential
from verifier.core.reasons import Verdict

ISS = "PL-1043"
# Names and university together up to 150 characters, Polish letters in each.
_GN, _FN = "Małgorzata Katarzyna Żaneta", "Brzęczyszczykiewicz-Wojciechowska"
_UNI = ("Uniwersytet Kardynała Stefana Wyszyńskiego w Warszawie, Wydział Nauk Historycznych i "
        "Społecznych, Łódź")
REAL_LENGTH = [
    ("Anna", "Kowalska", "Politechnika Testowa"),
    (_GN, _FN, _UNI[: 150 - len(_GN) - len(_FN)]),
    # The worst case of 150: nearly every character a two-byte Polish letter.
    ("Żółć Ęą Śń" * 3, "Źdźbłów" * 5, "Łąkowa Żółć Ńęś" * 5 + "Ą" * 10),
]
assert [len("".join(n)) for n in REAL_LENGTH] == [32, 150, 150]
FOUR_BYTES = "\U0001d538"  # MATHEMATICAL DOUBLE-STRUCK CAPITAL A: printable, NFC, 4 UTF-8 bytes


def png(rgb: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    """A real face (scikit-image's astronaut), at 256 x 256 to keep the face search short."""
    from skimage import data

    return np.asarray(Image.fromarray(data.astronaut()).resize((256, 256)))


def version(text: str) -> int:
    return int(segno.make_qr(text, error="m", mode="alphanumeric", boost_error=False).version)


# The arithmetic --------------------------------------------------------------------------------
@pytest.mark.parametrize("v", [1, 2, 9, 10, 14, 15, 16, 26, 27, 28, 39, 40])
def test_capacity_table_matches_segno(v: int) -> None:
    capacity = codesize.ALNUM_CAPACITY_M[v - 1]
    assert version("A" * capacity) == v
    if v < 40:
        assert version("A" * (capacity + 1)) == v + 1
    else:
        with pytest.raises(segno.DataOverflowError):
            version("A" * (capacity + 1))


def test_no_zlib_setting_exceeds_the_bound(astronaut: np.ndarray) -> None:
    """The phone's zlib is not ours: every level and strategy, at any window of 8 KiB or more
    and memory level 7 or more (zlib's defaults, CompressionStream's, are 32 KiB and 8), on
    presentations of real credentials (random keys, a real portrait), stays within it. (With
    a 512-byte window a deflater can add ~6 %: no phone library chooses that.)"""
    data = StudentData(*REAL_LENGTH[1][:2], "2003-05-17", REAL_LENGTH[1][2], "100234",
                       photos.portrait_from_photo(png(astronaut), 600))
    rng = random.Random(7)
    presentations = [Wallet.new() for _ in range(3)]
    uni = University(ISS, data.university)
    for wallet in presentations:
        wallet.credential = uni.issue(data, wallet.public_key, iat=NOW, exp=NOW + 10**6)
    worst = 0
    for wallet in presentations:
        assert wallet.credential is not None
        for time in (NOW, 2**32 - 1, rng.randrange(2**32)):
            presentation = zlib.decompress(b45decode(wallet.present(time)[4:]))
            bound = codesize.zlib_bound(len(presentation))
            assert len(presentation) <= codesize.presentation_length(len(wallet.credential))
            for level in range(-1, 10):
                for strategy in (zlib.Z_DEFAULT_STRATEGY, zlib.Z_FILTERED, zlib.Z_HUFFMAN_ONLY,
                                 zlib.Z_RLE, zlib.Z_FIXED):
                    for wbits, mem in ((15, 8), (13, 7), (14, 9), (15, 9)):
                        c = zlib.compressobj(level, zlib.DEFLATED, wbits, mem, strategy)
                        out = c.compress(presentation) + c.flush()
                        worst = max(worst, len(out) - len(presentation))
                        assert len(out) <= bound
    assert worst > 0  # some settings do grow it: the bound is needed
    # And on bytes that cannot compress at all, in every size a presentation can have.
    for n in (300, 700, 1100, 2300):
        raw = rng.randbytes(n)
        assert len(zlib.compress(raw, 0)) <= codesize.zlib_bound(n)
        assert len(zlib.compress(raw, 9)) <= codesize.zlib_bound(n)


# Every code the stub makes ---------------------------------------------------------------------
@pytest.mark.parametrize("names", REAL_LENGTH, ids=["short", "150 characters", "150 Polish"])
@pytest.mark.parametrize("source", ["synthetic", "astronaut"])
def test_real_length_names_fit_version_27_with_a_photo(
    tmp_path: Path, names: tuple[str, str, str], source: str, astronaut: np.ndarray
) -> None:
    issuer = Issuer(tmp_path / "issuer")
    _rename_university(issuer, names[2])
    photo = photos.synthetic_photo("fit") if source == "synthetic" else png(astronaut)
    student_id = issuer.add(1, given_names=names[0], family_name=names[1], photo=photo)
    phone = issuer.activate(student_id)
    credential = parse_credential(phone.wallet.credential)
    assert codesize.qr_version(codesize.code_text_bound(phone.wallet.credential)) <= 27
    for at in (NOW, NOW + 15, NOW + 30):
        assert version(phone.wallet.present(at)) <= 27
    # The portrait: a WebP head-and-shoulders of 3:4, at most 1024 bytes and 256 x 256.
    portrait = credential.student.photo
    assert portrait is not None and photos.photo_type(portrait) == "image/webp"
    assert len(portrait) <= 1024
    width, height = Image.open(io.BytesIO(portrait)).size
    assert width <= 256 and height <= 256 and width * 4 == height * 3
    # The device key compressed: y is the sign bit, a bool (32 bytes shorter).
    claims = cbor2.loads(cbor2.loads(phone.wallet.credential).value[2])
    assert type(claims[8][1][-3]) is bool
    assert issuer.check(phone, NOW).verdict is Verdict.VALID


def test_without_photo_usual_names_fit_version_15_and_the_longest_still_fit(
    tmp_path: Path
) -> None:
    # Version 15 holds names and university of up to ~75 characters in the worst case (any
    # zlib): the two signatures, key, id and CBOR take ~310 of its 397 bytes.
    short = StudentData("Anna Maria", "Kowalska-Nowak", "2003-05-17",
                        "Uniwersytet Jagielloński w Krakowie", "100234")
    assert codesize.require_fits(short, ISS) <= 15
    assert codesize.require_fits(replace(short, given_names="Anna", family_name="Kowalska",
                                         university="Politechnika Testowa"), ISS) <= 15
    for names in REAL_LENGTH:
        data = StudentData(names[0], names[1], "2003-05-17", names[2], "100234")
        assert codesize.require_fits(data, ISS) <= 27


def test_longer_fields_get_a_smaller_photo(astronaut: np.ndarray) -> None:
    budgets = [codesize.portrait_budget(StudentData(n[0], n[1], "2003-05-17", n[2], "1"), ISS)
               for n in REAL_LENGTH]
    assert budgets[0] > budgets[1] > budgets[2] >= codesize.MIN_PORTRAIT_BYTES
    sizes = [len(photos.portrait_from_photo(png(astronaut), b)) for b in budgets]
    assert all(s <= b for s, b in zip(sizes, budgets, strict=True))
    assert sizes[0] > sizes[2]


# Refused: too long ------------------------------------------------------------------------------
def _rename_university(issuer: Issuer, name: str) -> None:
    with issuer.registry.session() as store:
        store.conn.execute("UPDATE issuer_keys SET name = ?", (name,))


def test_a_credential_too_long_for_any_qr_code_is_refused_with_a_sentence(
    tmp_path: Path
) -> None:
    issuer = Issuer(tmp_path / "issuer")
    _rename_university(issuer, FOUR_BYTES * 200)
    long_names = {"given_names": FOUR_BYTES * 100, "family_name": FOUR_BYTES * 100}
    with pytest.raises(InvalidInput) as exc:
        issuer.add(1, **long_names)  # with its photo: no QR code would hold it
    assert exc.value.code == "credential_too_large"
    assert "would not fit a QR code" in exc.value.message and "shorten" in exc.value.message
    assert issuer.office.students() == []
    # Without a photo it fits (version 40 at most); giving it a photo later is refused too.
    student_id = issuer.add(1, photo=None, **long_names)
    with pytest.raises(InvalidInput) as exc:
        issuer.office.update_student(student_id, {"photo": photos.synthetic_photo("x")}, NOW)
    assert exc.value.code == "credential_too_large"
    # At issuance: a record holding a photo anyway (an older database) is never issued, and
    # its activation code stays unused.
    with issuer.registry.session() as store:
        store.update_student(student_id, {"photo": photos.synthetic_portrait("x", 400)})
    order = issuer.office.order(student_id, NOW)
    with pytest.raises(InvalidInput) as exc:
        issuer.office.activate(order.code, Wallet.new().public_key, NOW)
    assert exc.value.code == "credential_too_large"
    with issuer.registry.reader() as store:
        assert store.order_by_hash(_hash(order.code)).used_at is None
        assert store.credentials_of(student_id) == []


def _hash(code: str) -> bytes:
    from issuer_stub import lifecycle

    return lifecycle.code_hash(lifecycle.normalize_code(code))


def test_cli_issue_refuses_a_credential_too_long(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "issuer"
    assert main(["init", str(directory), "--iss", ISS, "--name", FOUR_BYTES * 200,
                 "--now", str(NOW)]) == 0
    photo = tmp_path / "face.png"
    photo.write_bytes(photos.synthetic_photo("cli"))
    wallet = tmp_path / "wallet.json"
    argv = ["issue", str(directory), "--given-names", FOUR_BYTES * 100, "--family-name",
            FOUR_BYTES * 100, "--birth-date", "2003-05-17", "--album", "100234", "--photo",
            str(photo), "--wallet", str(wallet), "--now", str(NOW)]
    capsys.readouterr()
    assert main(argv) == 2  # one sentence, exit 2: the CLI's error path
    err = capsys.readouterr().err
    assert "would not fit a QR code" in err and err.count("\n") == 1
    assert not wallet.exists()


def test_a_stored_older_jpeg_is_made_smaller_at_issuance() -> None:
    rgb = photos.synthetic_face("legacy")
    out = io.BytesIO()
    Image.fromarray(rgb).resize((96, 128)).save(out, "JPEG", quality=95)
    legacy = out.getvalue()
    assert len(legacy) > 2000  # as the old issuer's cap allowed
    data = StudentData("Anna", "Kowalska", "2003-05-17", "Politechnika Testowa", "1", legacy)
    fitted = photos.fit_student(data, ISS)
    assert fitted.photo is not None and photos.photo_type(fitted.photo) == "image/webp"
    assert len(fitted.photo) <= codesize.portrait_budget(replace(data, photo=None), ISS)
    # A portrait that fits is kept as it is.
    assert photos.fit_student(fitted, ISS) == fitted


# Photos in --------------------------------------------------------------------------------------
def photo_bomb(side: int = 65000) -> bytes:
    """A small JPEG whose header declares ``side`` x ``side`` pixels."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "JPEG", quality=10)
    data = bytearray(out.getvalue())
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = side.to_bytes(2, "big") * 2
    return bytes(data)


def phone_jpeg(astronaut: np.ndarray) -> bytes:
    """A phone's photo: 12 megapixels, ~3 MB, stored on its side with an EXIF orientation."""
    import cv2

    rng = np.random.default_rng(3)
    big = cv2.resize(astronaut, (3024, 3024), interpolation=cv2.INTER_CUBIC)
    big = cv2.copyMakeBorder(big, 0, 0, 504, 504, cv2.BORDER_REPLICATE)  # 4032 x 3024
    grain = np.tile(rng.integers(0, 24, (504, 504, 3), dtype=np.uint8), (6, 8, 1))
    noisy = cv2.subtract(cv2.add(big, grain), np.full_like(big, 12))  # sensor noise
    sideways = Image.fromarray(np.ascontiguousarray(np.rot90(noisy)))  # EXIF 6 turns it back
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    sideways.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


@pytest.fixture(scope="module")
def phone_photo(astronaut: np.ndarray) -> bytes:
    return phone_jpeg(astronaut)


def _cli_add(directory: Path, photo: Path) -> int:
    return main(["student", "add", str(directory), "--given-names", "Anna", "--family-name",
                 "Kowalska", "--birth-date", "2003-05-17", "--album", "100234", "--photo",
                 str(photo), "--now", str(NOW)])


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    directory = tmp_path / "issuer"
    assert main(["init", str(directory), "--iss", ISS, "--name", "Politechnika Testowa",
                 "--now", str(NOW)]) == 0
    return directory


def test_a_phones_3_mb_jpeg_with_a_face_is_accepted(directory: Path, tmp_path: Path,
                                                    phone_photo: bytes) -> None:
    photo = tmp_path / "IMG_0001.jpg"
    photo.write_bytes(phone_photo)
    assert 2_000_000 < photo.stat().st_size < 8_000_000
    assert _cli_add(directory, photo) == 0
    with Registry(directory).reader() as store:
        (record,) = store.students()
    assert record.photo is not None and photos.photo_type(record.photo) == "image/webp"
    assert len(record.photo) <= codesize.MAX_PORTRAIT_BYTES


@pytest.mark.parametrize(
    ("make", "code", "words"),
    [
        (lambda a: photo_bomb(), "photo_dimensions", "declares"),
        (lambda a: photo_bomb(30000), "photo_dimensions", "declares"),
        (lambda a: photo_bomb(12000), "photo_dimensions", "12000 x 12000"),
        (lambda a: png(np.full((480, 360, 3), 128, np.uint8)), "photo_no_face", "no face"),
        (lambda a: png(np.ascontiguousarray(a[150:, :, :])), "photo_no_face", "no face"),
        (lambda a: b"\xff\xd8\xff\xe0" + bytes(300), "photo_type", "can be read"),
        (lambda a: a[:5000], "photo_type", "truncated"),
        (lambda a: b"GIF89a" + bytes(30), "photo_type", "JPEG, PNG, WebP or AVIF"),
    ],
    ids=["65000 bomb", "30000 bomb", "12000 bomb", "grey", "no face in it", "garbage",
         "truncated", "gif"],
)
def test_photos_refused_with_a_sentence(directory: Path, tmp_path: Path, astronaut: np.ndarray,
                                        phone_photo: bytes, make, code: str, words: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    data = make(phone_photo if code == "photo_type" and "truncated" in words else astronaut)
    if code != "photo_type" or data.startswith(b"\xff"):
        with pytest.raises(InvalidInput) as exc:
            photos.portrait_from_photo(data)
        assert exc.value.code == code
    photo = tmp_path / "photo"
    photo.write_bytes(data)
    capsys.readouterr()
    assert _cli_add(directory, photo) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and "Traceback" not in err
    with Registry(directory).reader() as store:
        assert store.students() == []


def test_every_input_format_makes_the_same_kind_of_portrait(astronaut: np.ndarray) -> None:
    for fmt in ("JPEG", "PNG", "WEBP", "AVIF"):
        out = io.BytesIO()
        Image.fromarray(astronaut).save(out, fmt)
        portrait = photos.portrait_from_photo(out.getvalue(), 700)
        assert photos.photo_type(portrait) == "image/webp" and len(portrait) <= 700


def test_synthetic_demo_faces_are_found_like_real_ones() -> None:
    for seed in range(10):
        assert photos.find_face(photos.synthetic_face(f"seed {seed}")) is not None


def test_a_student_added_with_photo_keeps_no_input_bytes(tmp_path: Path,
                                                          astronaut: np.ndarray) -> None:
    issuer = Issuer(tmp_path / "issuer")
    given = png(astronaut)
    student_id = issuer.office.add_student({**student_fields(1), "photo": given}, NOW)
    stored = issuer.office.student(student_id).photo
    assert stored is not None and stored != given and len(stored) <= 1024


def test_a_csv_row_whose_photo_has_no_face_is_named_by_its_line(tmp_path: Path) -> None:
    from tests.test_issuer_lifecycle import CSV_HEADER, _csv_row

    issuer = Issuer(tmp_path / "issuer")
    (tmp_path / "wall.png").write_bytes(png(np.full((400, 300, 3), 200, np.uint8)))
    csv = tmp_path / "students.csv"
    csv.write_text("\n".join([CSV_HEADER, _csv_row(1), _csv_row(2, "wall.png")]) + "\n")
    with pytest.raises(InvalidInput) as exc:
        issuer.office.import_csv(csv, NOW)
    assert "line 3" in exc.value.message and "no face" in exc.value.message
    assert issuer.office.students() == []


def test_damaged_photos_are_refused_never_crash(astronaut: np.ndarray) -> None:
    """Mutated bytes of every input format: a portrait or a refusal, nothing else."""
    rng = random.Random(17)
    small = Image.fromarray(astronaut).resize((128, 128))
    for fmt in ("JPEG", "PNG", "WEBP", "AVIF"):
        out = io.BytesIO()
        small.save(out, fmt)
        original = out.getvalue()
        for _ in range(15):
            data = bytearray(original)
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            if rng.random() < 0.3:
                data = data[: rng.randrange(len(data))]
            try:
                portrait = photos.portrait_from_photo(bytes(data), 600)
            except InvalidInput as exc:
                assert exc.code.startswith("photo_") and exc.message
            else:
                assert photos.photo_type(portrait) == "image/webp" and len(portrait) <= 600
