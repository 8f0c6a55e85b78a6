"""A symbol's codewords corrected with its unreadable modules erased (issue 16, glare).

Where glare saturates the sensor over part of a code, dark and light modules there come
out the same white: their colour is not uncertain but unknown. zxing's reader cannot be
told so; it takes every such codeword as an error, and Reed-Solomon corrects only half as
many errors as it corrects erasures (codewords whose position is known to be wrong). Here
the decided modules are read back into codewords (format information, mask, placement,
block interleaving of ISO/IEC 18004), each block is decoded by ``reedsolo`` with the
codewords that touch a lost module erased, and the corrected codewords are written back
into a clean symbol, which zxing's pure-symbol reader then reads as before (so the text
and its format checks stay zxing's).

A block is taken only with ``SLACK`` check symbols left over after its corrections
(2 per error + 1 per erasure): a block decoded at the very edge of its capacity could
be a wrong codeword with nothing left to notice it.

The block table is segno's (``segno.consts.ECC``, the standard's table 9): segno already
makes the project's codes, and a test checks the table against codes segno makes.
"""

from __future__ import annotations

import functools

import numpy as np
import reedsolo  # at import: a kit without it fails at start, not on the first glare

from verifier.imaging.budget import Budget, remember, spend, units
from verifier.imaging.decoding_grid import fixed_modules, read_rendered, symbol_size

#: Check symbols a block must keep unused after its corrections (see the module docstring).
SLACK = 4

#: Grey levels below the brightest module a module's whole 5x5 neighbourhood may be and
#: still count as washed out (sensor noise and the block means at the glare's edge). Below
#: the brightest, not below 255: a video-range frame clips at 235.
WASHED_OUT = 6

#: Fewest lost data modules worth the Reed-Solomon work (a glare spot this small is
#: within what zxing's own correction covers).
MIN_LOST = 16

#: The error correction level's two bits in the format information -> segno's level.
_LEVELS = {0b01: "L", 0b00: "M", 0b11: "Q", 0b10: "H"}

#: Symbol-codeword bytes a unit of work (~0.1 ms here) buys in reedsolo's pure-Python
#: decoder with erasures (bench/bench_speed.py's kind of measure; ~25 us a byte here).
RS_BYTES = 4


def format_word(level_bits: int, mask: int) -> int:
    """The 15-bit format information (BCH(15, 5), XOR 0x5412) for a level and mask."""
    data = level_bits << 3 | mask
    rem = data << 10
    for shift in range(4, -1, -1):
        if rem >> (shift + 10) & 1:
            rem ^= 0x537 << shift
    return (data << 10 | rem) ^ 0x5412


@functools.lru_cache(maxsize=32)
def _format_bits(level_bits: int, mask: int) -> np.ndarray:
    """``format_word``'s 15 bits, most significant first (the order of ``_format_positions``)."""
    word = format_word(level_bits, mask)
    bits = np.array([word >> (14 - i) & 1 for i in range(15)], bool)
    bits.setflags(write=False)
    return bits


@functools.lru_cache(maxsize=48)
def _format_positions(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) of the format bits, most significant first, for both copies."""
    first = [(8, c) for c in range(6)] + [(8, 7), (8, 8), (7, 8)]
    first += [(r, 8) for r in range(5, -1, -1)]
    second = [(r, 8) for r in range(n - 1, n - 8, -1)] + [(8, c) for c in range(n - 8, n)]
    return np.array(first), np.array(second)


def read_format(dark: np.ndarray, lost: np.ndarray) -> tuple[int, int] | None:
    """(level bits, mask) of the closest format word over both copies, counting only the
    bits not lost; None when even the closest differs in more than 3 of them."""
    n = dark.shape[0]
    best: tuple[int, tuple[int, int]] | None = None
    copies = _format_positions(n)
    for level_bits in _LEVELS:
        for mask in range(8):
            bits = _format_bits(level_bits, mask)
            for pos in copies:
                seen = ~lost[pos[:, 0], pos[:, 1]]
                if np.count_nonzero(seen) < 10:
                    continue
                wrong = int(np.count_nonzero((dark[pos[:, 0], pos[:, 1]] != bits) & seen))
                if best is None or wrong < best[0]:
                    best = (wrong, (level_bits, mask))
    return best[1] if best is not None and best[0] <= 3 else None


@functools.lru_cache(maxsize=48)
def function_modules(version: int) -> np.ndarray:
    """Every module that carries no data: the fixed ones and the two format copies."""
    n = symbol_size(version)
    mask = fixed_modules(version).known.copy()
    for pos in _format_positions(n):
        mask[pos[:, 0], pos[:, 1]] = True
    mask.setflags(write=False)
    return mask


@functools.lru_cache(maxsize=48)
def data_positions(version: int) -> np.ndarray:
    """(row, col) of the data modules in placement order: two-column strips from the right,
    up and down in turn, the timing column skipped."""
    n = symbol_size(version)
    function = function_modules(version)
    order = []
    col, upward = n - 1, True
    while col > 0:
        if col == 6:
            col -= 1
        rows = range(n - 1, -1, -1) if upward else range(n)
        for r in rows:
            for c in (col, col - 1):
                if not function[r, c]:
                    order.append((r, c))
        col -= 2
        upward = not upward
    return np.array(order)


def data_mask(mask: int, n: int) -> np.ndarray:
    """Where mask pattern ``mask`` flips a module (True: flip)."""
    i, j = np.indices((n, n))
    patterns = (
        lambda: (i + j) % 2 == 0,
        lambda: i % 2 == 0,
        lambda: j % 3 == 0,
        lambda: (i + j) % 3 == 0,
        lambda: (i // 2 + j // 3) % 2 == 0,
        lambda: (i * j) % 2 + (i * j) % 3 == 0,
        lambda: ((i * j) % 2 + (i * j) % 3) % 2 == 0,
        lambda: ((i + j) % 2 + (i * j) % 3) % 2 == 0,
    )
    return patterns[mask]()


def blocks(version: int, level: str) -> list[tuple[int, int]]:
    """(codewords, data codewords) of each block, in the symbol's block order."""
    from segno import consts

    out = []
    for group in consts.ECC[version][consts.ERROR_MAPPING[level]]:
        out += [(int(group.num_total), int(group.num_data))] * int(group.num_blocks)
    return out


def _interleaved(layout: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(block, index in block) of each codeword in the order the symbol carries them:
    the data codewords column by column across the blocks, then the check codewords."""
    order = []
    for i in range(max(d for _t, d in layout)):
        order += [(b, i) for b, (_t, d) in enumerate(layout) if i < d]
    for i in range(max(t - d for t, d in layout)):
        order += [(b, d + i) for b, (t, d) in enumerate(layout) if i < t - d]
    return order


@functools.lru_cache(maxsize=16)
def _codec(nsym: int) -> object:
    """QR's Reed-Solomon code (GF(256) over 0x11D, generator 2, roots from 2^0) with
    ``nsym`` check symbols: reedsolo's defaults."""
    return reedsolo.RSCodec(nsym)


def saturated(values: np.ndarray, version: int) -> np.ndarray | None:
    """The data modules in a 5x5 square within ``WASHED_OUT`` grey levels of the brightest
    module (dark and light alike washed out: their colour is lost), from
    the raw module means of a frame (either polarity); None where there are fewer than
    ``MIN_LOST`` of them or the brightest module is below 200 (nothing saturated)."""
    import cv2

    top = float(values.max())
    if top < 200:
        return None
    square = np.ones((5, 5), np.uint8)  # 5x5 all light in an ordinary code: 1 in 2^25
    washed = cv2.erode(values, square, borderType=cv2.BORDER_REPLICATE) >= top - WASHED_OUT
    # grown back by the same square (an opening): the rim of the glare is lost too
    lost = cv2.dilate(washed.view(np.uint8), square).astype(bool) & ~function_modules(version)
    return lost if np.count_nonzero(lost) >= MIN_LOST else None


def work(version: int, level: str = "M") -> int:
    """Units the Reed-Solomon decoding of a whole symbol spends (``repaired``'s blocks)."""
    return sum(units(total, RS_BYTES) for total, _data in blocks(version, level))


def read_erased(
    dark: np.ndarray,
    lost: np.ndarray,
    version: int,
    budget: Budget | None = None,
    key: tuple | None = None,
) -> list[str]:
    """The texts zxing reads from ``repaired(...)``, none where it gives no symbol."""
    fixed = repaired(dark, lost, version, budget, key)
    return [] if fixed is None else read_rendered(fixed, budget)


def repaired(
    dark: np.ndarray,
    lost: np.ndarray,
    version: int,
    budget: Budget | None = None,
    key: tuple | None = None,
) -> np.ndarray | None:
    """``dark`` with its data codewords corrected, the codewords touching a ``lost`` module
    erased; None where the format cannot be read or a block cannot be corrected with
    ``SLACK`` check symbols to spare. Each block is a step remembered under ``key`` (a
    slice can end between blocks; None: a key made from ``dark`` and ``lost``)."""
    if key is None:
        key = ("erasures", hash(np.packbits(dark).tobytes() + np.packbits(lost).tobytes()))
    n = symbol_size(version)
    found = read_format(dark, lost)
    if found is None:
        return None
    level_bits, mask = found
    layout = blocks(version, _LEVELS[level_bits])
    order = _interleaved(layout)
    positions = data_positions(version)[: 8 * len(order)]
    flip = data_mask(mask, n)
    rows, cols = positions[:, 0], positions[:, 1]
    bits = (dark[rows, cols] ^ flip[rows, cols]).reshape(-1, 8)
    values = np.packbits(bits, axis=1).ravel()
    gone = lost[rows, cols].reshape(-1, 8).any(axis=1)
    received = [bytearray(t) for t, _d in layout]
    erased: list[list[int]] = [[] for _ in layout]
    for k, (b, i) in enumerate(order):
        received[b][i] = int(values[k])
        if gone[k]:
            erased[b].append(i)
    if any(len(e) > t - d - SLACK for e, (t, d) in zip(erased, layout, strict=True)):
        return None  # more erased than a block can take: no block's work is worth doing
    corrected = []
    for b, (total, data) in enumerate(layout):

        def block(b: int = b, total: int = total, data: int = data) -> bytes | None:
            spend(budget, units(total, RS_BYTES))  # paid once: a replay finds it remembered
            return _corrected(bytes(received[b]), tuple(erased[b]), total - data)

        fixed = remember(budget, (*key, b, found), block)
        if fixed is None:
            return None
        corrected.append(fixed)
    out = np.array(dark, bool)
    stream = np.array([corrected[b][i] for b, i in order], np.uint8)
    out[rows, cols] = np.unpackbits(stream).astype(bool) ^ flip[rows, cols]
    for pos in _format_positions(n):
        out[pos[:, 0], pos[:, 1]] = _format_bits(level_bits, mask)
    return out


def _corrected(received: bytes, erased: tuple[int, ...], nsym: int) -> bytes | None:
    """One block decoded with ``erased`` positions, or None where that needs more than
    ``nsym - SLACK`` check symbols (2 a corrected error, 1 an erasure) or fails."""
    try:
        _msg, fixed, _where = _codec(nsym).decode(bytearray(received), erase_pos=list(erased))
    except reedsolo.ReedSolomonError:
        return None
    gone = set(erased)
    errors = sum(1 for i, (a, b) in enumerate(zip(fixed, received, strict=True))
                 if a != b and i not in gone)
    return bytes(fixed) if 2 * errors + len(erased) <= nsym - SLACK else None
