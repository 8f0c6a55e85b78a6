"""Small codes (issue 17): QR sizes before and after, face quality at the byte budget, decode rate.

Run from the repository root: ``.venv/bin/python bench/bench_codes.py`` (~10 min on a shared
2-core machine; ``--help``).
Needs the test extra (scikit-image: its astronaut is the real face). Prints Markdown; with
``--picture docs/portraits.png`` also writes the side-by-side picture of the portraits.

Baselines are made in the same run: "before" is the issuer as it was (uncompressed device key,
the old 48x64 cartoon JPEG, a real face as a JPEG under the old 2,048-byte cap); "after" is
what the issuer stub makes now. Every text is made the way a phone makes it (Python zlib -9 here;
the bound column is the worst case over any zlib, which the issuer fits against).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import segno
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import bench_decode  # noqa: E402

from issuer_stub import codesize, photos  # noqa: E402
from issuer_stub.authority import University  # noqa: E402
from issuer_stub.signing import (  # noqa: E402
    StudentData,
    credential_claims,
    qr_text,
    sign_credential,
    sign_presentation,
)
from issuer_stub.wallet import Wallet  # noqa: E402

ISS = "PL-1043"
NOW = 1_800_000_000
SHORT = ("Anna", "Kowalska", "Politechnika Demonstracyjna")
# 150 characters together, Polish letters in every part: as long as real ones get.
LONG = ("Małgorzata Katarzyna Żaneta", "Brzęczyszczykiewicz-Wojciechowska",
        "Uniwersytet Kardynała Stefana Wyszyńskiego w Warszawie, Wydział Nauk Historycznych "
        "i Społecznych, Łódź")
LONG = (LONG[0], LONG[1], LONG[2][: 150 - len(LONG[0]) - len(LONG[1])])


def student(names: tuple[str, str, str], photo: bytes | None = None) -> StudentData:
    return StudentData(names[0], names[1], "2003-05-17", names[2], "100234", photo)


# --------------------------------------------------------------------------- faces


def astronaut_crop() -> np.ndarray:
    """The real face, cropped the way the issuer crops (head and shoulders, 3:4)."""
    from skimage import data

    rgb = data.astronaut()
    face = photos.find_face(rgb)
    assert face is not None
    return photos.head_and_shoulders(rgb, face)


def astronaut_png() -> bytes:
    from skimage import data

    out = io.BytesIO()
    Image.fromarray(data.astronaut()).save(out, "PNG")
    return out.getvalue()


def old_cartoon_jpeg(seed: str, width: int = 48, height: int = 64) -> bytes:
    """The issuer's portrait before issue 17 (its old photos.py), for the baseline."""
    h = hashlib.sha256(seed.encode()).digest()
    img = np.full((height, width, 3), (200 + h[0] % 40, 190 + h[1] % 50, 180), np.uint8)
    skin = (120 + h[2] % 60, 160 + h[3] % 50, 200 + h[4] % 50)
    hair = (h[5] % 80, h[6] % 60, h[7] % 70)
    cx = width // 2
    cv2.ellipse(img, (cx, height), (width // 2 - 2, height // 4), 0, 180, 360, (90, 60, h[8]), -1)
    cv2.ellipse(img, (cx, height // 2 - 2), (width // 4 + 2, height // 3), 0, 0, 360, skin, -1)
    cv2.ellipse(img, (cx, height // 4), (width // 4 + 4, height // 7), 0, 180, 360, hair, -1)
    for dx in (-width // 9, width // 9):
        cv2.circle(img, (cx + dx, height // 2 - 6), 2, (40, 30, 20), -1)
    cv2.ellipse(img, (cx, height // 2 + 8), (6, 3), 0, 0, 180, (60, 60, 160), 1)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return buf.tobytes()


def encode(image: Image.Image, fmt: str, quality: int) -> bytes:
    out = io.BytesIO()
    if fmt == "AVIF":
        image.save(out, "AVIF", quality=quality, speed=0)
    elif fmt == "WEBP":
        image.save(out, "WEBP", quality=quality, method=6)
    else:
        image.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def best_under(image: Image.Image, fmt: str, budget: int) -> bytes | None:
    """The highest quality of ``fmt`` within ``budget`` bytes (binary search), or None."""
    best, low, high = None, 0, 100
    while low <= high:
        quality = (low + high) // 2
        data = encode(image, fmt, quality)
        if len(data) <= budget:
            best, low = data, quality + 1
        else:
            high = quality - 1
    return best


def ssim(reference: np.ndarray, data: bytes) -> float:
    """SSIM (grey) of a decoded portrait against the crop, both at the reference's size."""
    from skimage.metrics import structural_similarity

    height, width = reference.shape[:2]
    decoded = Image.open(io.BytesIO(data)).convert("L").resize((width, height),
                                                              Image.Resampling.BICUBIC)
    return float(structural_similarity(reference, np.asarray(decoded), data_range=255))


# --------------------------------------------------------------------------- (a) sizes


@dataclass
class SizeRow:
    case: str
    when: str
    photo: str
    characters: int
    version: int | None
    bound: int | None = None


def make_text(data: StudentData, compressed: bool) -> str:
    uni = University(ISS, data.university)
    wallet = Wallet.new()
    claims = credential_claims(iss=ISS, student=data, device_key=wallet.public_key,
                               cti=bytes(16), iat=NOW, nbf=NOW, exp=NOW + 10**7,
                               compressed_key=compressed)
    credential = sign_credential(uni.key, claims)
    return qr_text(sign_presentation(wallet.device_key, credential, NOW))


def version_of(text: str) -> int | None:
    try:
        return int(segno.make_qr(text, error="m", mode="alphanumeric", boost_error=False).version)
    except segno.DataOverflowError:
        return None


def size_rows() -> list[SizeRow]:
    crop = Image.fromarray(astronaut_crop())
    old_face = best_under(crop.resize((96, 128), Image.Resampling.LANCZOS), "JPEG", 2048)
    assert old_face is not None
    cases: list[tuple[str, tuple[str, str, str], Callable[[], bytes | None],
                      Callable[[StudentData], bytes | None]]] = [
        ("no photo", SHORT, lambda: None, lambda s: None),
        ("demo portrait", SHORT, lambda: old_cartoon_jpeg("Anna Kowalska"),
         lambda s: photos.synthetic_portrait("Anna Kowalska",
                                             codesize.portrait_budget(s, ISS))),
        ("real face (astronaut)", SHORT, lambda: old_face,
         lambda s: photos.portrait_for(astronaut_png(), s, ISS).photo),
        ("150 characters, no photo", LONG, lambda: None, lambda s: None),
        ("150 characters, demo portrait", LONG, lambda: old_cartoon_jpeg("long"),
         lambda s: photos.synthetic_portrait("long", codesize.portrait_budget(s, ISS))),
        ("150 characters, real face", LONG, lambda: old_face,
         lambda s: photos.portrait_for(astronaut_png(), s, ISS).photo),
    ]
    rows = []
    for name, names, before, after in cases:
        old = student(names, before())
        text = make_text(old, compressed=False)
        rows.append(SizeRow(name, "before", _describe(old.photo), len(text), version_of(text)))
        new = replace(old, photo=after(replace(old, photo=None)))
        text = make_text(new, compressed=True)
        bound = codesize.text_bound_of(new, ISS)
        rows.append(SizeRow(name, "after", _describe(new.photo), len(text), version_of(text),
                            bound))
    return rows


def _describe(photo: bytes | None) -> str:
    if photo is None:
        return "-"
    kind = (photos.photo_type(photo) or "?").split("/")[1].upper()
    width, height = Image.open(io.BytesIO(photo)).size
    return f"{kind} {width}x{height}, {len(photo)} B"


# --------------------------------------------------------------------------- (b) quality


def quality_rows(budgets: list[int]) -> list[tuple[int, str, str, dict[str, tuple[float, int]]]]:
    """Per budget and pixel size: SSIM and bytes of WebP, AVIF and JPEG at the same bytes."""
    crop = Image.fromarray(astronaut_crop())
    reference = np.asarray(crop.resize((192, 256), Image.Resampling.LANCZOS).convert("L"))
    rows = []
    for budget in budgets:
        chosen = photos.size_for(budget)
        for size in ((60, 80), (72, 96), (96, 128)):
            small = crop.resize(size, Image.Resampling.LANCZOS)
            scores = {}
            for fmt in ("WEBP", "AVIF", "JPEG"):
                data = best_under(small, fmt, budget)
                scores[fmt] = (ssim(reference, data), len(data)) if data else (float("nan"), 0)
            mark = "chosen" if size == chosen else ""
            rows.append((budget, f"{size[0]}x{size[1]}", mark, scores))
    return rows


def picture(path: Path, budget: int) -> None:
    """The crop, then WebP, AVIF and JPEG at ``budget`` bytes, each shown at 3x (bicubic)."""
    crop = Image.fromarray(astronaut_crop())
    size = photos.size_for(budget)
    small = crop.resize(size, Image.Resampling.LANCZOS)
    tiles = [("original crop", crop.resize((216, 288), Image.Resampling.LANCZOS))]
    for fmt, label in (("WEBP", "WebP"), ("AVIF", "AVIF"), ("JPEG", "JPEG")):
        data = best_under(small, fmt, budget)
        assert data is not None
        shown = Image.open(io.BytesIO(data)).convert("RGB").resize((216, 288),
                                                                 Image.Resampling.BICUBIC)
        tiles.append((f"{label} {size[0]}x{size[1]}, {len(data)} B", shown))
    sheet = Image.new("RGB", (len(tiles) * 226 + 10, 318), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (label, tile) in enumerate(tiles):
        sheet.paste(tile, (10 + i * 226, 10))
        draw.text((10 + i * 226, 300), label, fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


# --------------------------------------------------------------------------- (c) decode rate


def wallet_modules(text: str) -> np.ndarray:
    """The code as the web wallet draws it: level M (boosted where it fits), quiet zone 4."""
    code = segno.make_qr(text, error="m", mode="alphanumeric", boost_error=True)
    return np.pad(np.array(code.matrix, dtype=np.uint8), 4)


def decode_rows(texts: dict[str, str], clips: int) -> list[tuple[str, int, str, list[str]]]:
    """bench_decode's approach clips (phone brought to the camera, then held) for each text:
    frames read (of every third frame), and time to the first read, by the pipeline and by
    zxing."""
    bench_decode.render_code = wallet_modules  # its clips, our codes' own QR rendering
    decoders = {"pipeline": bench_decode.PipelineDecoder(), "zxing": bench_decode.ZxingDecoder()}
    rows = []
    for name, text in texts.items():
        frames = [bench_decode.approach_clip(text, seed) for seed in range(clips)]
        cells = []
        for decoder in decoders.values():
            sample = [f for clip in frames for f in clip[::3]]  # every third frame
            read = sum(text in decoder.decode(f) for f in sample)
            total = len(sample)
            times = [bench_decode.time_to_verdict(decoder, clip, text)[0] for clip in frames]
            shown = [f"{t:.2f}" if t is not None else "miss" for t in times]
            median = statistics.median(t if t is not None else 99.0 for t in times)
            cells.append(f"{read}/{total} ({read / total:.0%}); first read "
                         f"{', '.join(shown)} s (median {median:.2f})")
        rows.append((name, version_of(text) or 0, f"{len(text)}", cells))
    return rows


# --------------------------------------------------------------------------- report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=3, help="approach clips per code size")
    parser.add_argument("--picture", type=Path, help="write the side-by-side portraits here")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    print("### (a) Codes the issuer stub makes, before and after\n")
    print("| case | | photo | characters | QR version (M) | worst case over any zlib |")
    print("|---|---|---|---|---|---|")
    rows = size_rows()
    for r in rows:
        bound = "-" if r.bound is None else f"{r.bound} ch, v{codesize.qr_version(r.bound)}"
        version = "none fits" if r.version is None else f"v{r.version}"
        print(f"| {r.case} | {r.when} | {r.photo} | {r.characters} | {version} | {bound} |")

    budgets = [codesize.photo_budget(student(LONG), ISS), codesize.photo_budget(student(SHORT),
                                                                                ISS), 1024]
    print("\n### (b) Face quality at the same bytes: SSIM against the crop (astronaut)\n")
    print("| budget | pixels | | WebP | AVIF | JPEG |")
    print("|---|---|---|---|---|---|")
    for budget, size, mark, scores in quality_rows(budgets):
        cells = [f"{s:.3f} ({n} B)" if n else "does not fit" for s, n in scores.values()]
        print(f"| {budget} B | {size} | {mark} | {' | '.join(cells)} |")
    if args.picture:
        picture(args.picture, budgets[1])
        print(f"\n(picture at {budgets[1]} B written to {args.picture})")

    texts = {  # the old real face at 2,048 bytes fits no QR code: the old demo code is v34
        "before: demo portrait": make_text(student(SHORT, old_cartoon_jpeg("Anna Kowalska")),
                                           compressed=False),
        "after: real face": make_text(photos.portrait_for(astronaut_png(), student(SHORT),
                                                          ISS), compressed=True),
        "after: 150 characters, real face": make_text(photos.portrait_for(
            astronaut_png(), student(LONG), ISS), compressed=True),
        "after: no photo": make_text(student(SHORT), compressed=True),
    }
    print(f"\n### (c) Decode rate: {args.clips} approach clips per code (bench_decode.py)\n")
    sys.stdout.flush()
    print("| code | QR version | characters | pipeline: frames read; first read | "
          "zxing alone: frames read; first read |")
    print("|---|---|---|---|---|")
    for name, version, characters, cells in decode_rows(texts, args.clips):
        print(f"| {name} | v{version} | {characters} | {' | '.join(cells)} |")
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
