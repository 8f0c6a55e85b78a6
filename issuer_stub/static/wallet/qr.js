// QR Code (model 2, ISO/IEC 18004) encoder: one segment in alphanumeric mode (or byte mode for
// text outside that charset), versions 1-40, Reed-Solomon over GF(256), the data mask with the
// lowest penalty score, and a <canvas> renderer.
//
// ML1 texts ("ML1:" + base45) are all in the alphanumeric charset, which packs 2 characters in
// 11 bits instead of 16, so the symbol is a third smaller than in byte mode.

export const ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

// Error correction levels, weakest first; `format` is the level's 2-bit field in format info.
const LEVELS = ["L", "M", "Q", "H"];
const FORMAT_BITS = { L: 1, M: 0, Q: 3, H: 2 };

// ISO/IEC 18004 table 9, indexed [level][version] (index 0 unused): error correction codewords
// per block, and number of blocks.
const ECC_PER_BLOCK = {
  L: [0, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28,
    28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
  M: [0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
    26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28],
  Q: [0, 13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30,
    28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
  H: [0, 17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28,
    30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
};
const BLOCKS = {
  L: [0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8,
    8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25],
  M: [0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16,
    17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49],
  Q: [0, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20,
    23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68],
  H: [0, 1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25,
    25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81],
};

const MODES = {
  alphanumeric: { indicator: 0b0010, countBits: [9, 11, 13] },
  byte: { indicator: 0b0100, countBits: [8, 16, 16] },
};

// The eight data masks (ISO/IEC 18004 table 10); true means "invert this module".
const MASKS = [
  (r, c) => (r + c) % 2 === 0,
  (r) => r % 2 === 0,
  (r, c) => c % 3 === 0,
  (r, c) => (r + c) % 3 === 0,
  (r, c) => (Math.floor(r / 2) + Math.floor(c / 3)) % 2 === 0,
  (r, c) => ((r * c) % 2) + ((r * c) % 3) === 0,
  (r, c) => (((r * c) % 2) + ((r * c) % 3)) % 2 === 0,
  (r, c) => (((r + c) % 2) + ((r * c) % 3)) % 2 === 0,
];

/** A finished symbol: `size` x `size` modules, `isDark(row, col)`. */
export class QrCode {
  constructor(version, level, mode, mask, modules) {
    this.version = version;
    this.level = level;
    this.mode = mode;
    this.mask = mask;
    this.size = version * 4 + 17;
    this.modules = modules; // Uint8Array, row-major, 1 = dark
  }

  isDark(row, col) {
    return this.modules[row * this.size + col] === 1;
  }
}

/**
 * Encode `text` as a QR code.
 * level: the minimum error correction level; with `boost`, a stronger level is used when it
 * fits in the same version (more damage tolerated at no cost in size).
 * mask: force a data mask (0-7) instead of choosing the best one; for tests.
 */
export function encodeQr(text, { level = "M", boost = true, mask = null } = {}) {
  const mode = [...text].every((ch) => ALPHANUMERIC.includes(ch)) ? "alphanumeric" : "byte";
  const payload = mode === "alphanumeric" ? alphanumericBits(text) : byteBits(text);
  const count = mode === "alphanumeric" ? text.length : payload.length / 8;

  let version = 1;
  while (segmentBits(mode, version, payload.length) > dataCodewords(version, level) * 8) {
    version += 1;
    if (version > 40) {
      throw new RangeError(`text of ${text.length} characters does not fit in a QR code at level ${level}`);
    }
  }
  if (boost) {
    for (const stronger of LEVELS.slice(LEVELS.indexOf(level) + 1)) {
      if (segmentBits(mode, version, payload.length) <= dataCodewords(version, stronger) * 8) {
        level = stronger;
      }
    }
  }

  const bits = new BitBuffer();
  bits.push(MODES[mode].indicator, 4);
  bits.push(count, MODES[mode].countBits[countBitsIndex(version)]);
  bits.append(payload);
  const codewords = addErrorCorrection(padData(bits, dataCodewords(version, level)), version, level);

  const matrix = new Matrix(version);
  matrix.drawFunctionPatterns();
  matrix.drawCodewords(codewords);
  let best = null;
  for (let m = 0; m < 8; m++) {
    if (mask !== null && m !== mask) continue;
    const candidate = matrix.withMask(m, level);
    const score = penalty(candidate.modules, candidate.size);
    if (best === null || score < best.score) best = { mask: m, modules: candidate.modules, score };
  }
  return new QrCode(version, level, mode, best.mask, best.modules);
}

/** The penalty score of ISO/IEC 18004 7.8.3.1 (N1 + N2 + N3 + N4) of a finished symbol. */
export function penalty(modules, size) {
  const at = (r, c) => modules[r * size + c];
  let score = 0;
  // N1 (runs of 5 or more of one colour) and N3 (finder-like 1:1:3:1:1 with 4 light modules
  // on one side), along rows and along columns.
  for (let line = 0; line < size; line++) {
    score += lineScore((i) => at(line, i), size);
    score += lineScore((i) => at(i, line), size);
  }
  // N2: each 2x2 block of one colour.
  for (let r = 0; r + 1 < size; r++) {
    for (let c = 0; c + 1 < size; c++) {
      const v = at(r, c);
      if (v === at(r, c + 1) && v === at(r + 1, c) && v === at(r + 1, c + 1)) score += 3;
    }
  }
  // N4: 10 points per full 5% that the share of dark modules is away from 50%.
  let dark = 0;
  for (const v of modules) dark += v;
  const total = size * size;
  score += 10 * Math.floor(Math.abs(dark * 20 - total * 10) / total);
  return score;
}

const FINDER_LIKE = [1, 0, 1, 1, 1, 0, 1];

function lineScore(get, size) {
  let score = 0;
  let run = 0;
  for (let i = 0; i < size; i++) {
    run = i > 0 && get(i) === get(i - 1) ? run + 1 : 1;
    const runEnds = i === size - 1 || get(i + 1) !== get(i);
    if (runEnds && run >= 5) score += 3 + (run - 5);
  }
  // Outside the symbol counts as light (the quiet zone).
  const light = (from, to) => {
    for (let i = Math.max(from, 0); i < Math.min(to, size); i++) if (get(i)) return false;
    return true;
  };
  // A counted pattern is not counted again in part: the next search starts after it.
  for (let i = 0; i + 7 <= size; i++) {
    if (FINDER_LIKE.every((v, k) => get(i + k) === v) && (light(i - 4, i) || light(i + 7, i + 11))) {
      score += 40;
      i += 6;
    }
  }
  return score;
}

class BitBuffer {
  constructor() {
    this.bits = [];
  }

  get length() {
    return this.bits.length;
  }

  push(value, width) {
    for (let i = width - 1; i >= 0; i--) this.bits.push((value >>> i) & 1);
  }

  append(other) {
    for (const bit of other.bits) this.bits.push(bit);
  }
}

function alphanumericBits(text) {
  const bits = new BitBuffer();
  for (let i = 0; i + 1 < text.length; i += 2) {
    bits.push(ALPHANUMERIC.indexOf(text[i]) * 45 + ALPHANUMERIC.indexOf(text[i + 1]), 11);
  }
  if (text.length % 2) bits.push(ALPHANUMERIC.indexOf(text[text.length - 1]), 6);
  return bits;
}

function byteBits(text) {
  const bits = new BitBuffer();
  for (const b of new TextEncoder().encode(text)) bits.push(b, 8);
  return bits;
}

function countBitsIndex(version) {
  return version <= 9 ? 0 : version <= 26 ? 1 : 2;
}

function segmentBits(mode, version, payloadBits) {
  return 4 + MODES[mode].countBits[countBitsIndex(version)] + payloadBits;
}

// Modules left for data and error correction once the function patterns are placed.
function rawDataModules(version) {
  let n = (16 * version + 128) * version + 64;
  if (version >= 2) {
    const align = Math.floor(version / 7) + 2;
    n -= (25 * align - 10) * align - 55;
    if (version >= 7) n -= 36;
  }
  return n;
}

function dataCodewords(version, level) {
  return Math.floor(rawDataModules(version) / 8) - ECC_PER_BLOCK[level][version] * BLOCKS[level][version];
}

// Terminator, zero bits to a byte boundary, then the alternating pad bytes 0xEC 0x11.
function padData(bits, capacity) {
  bits.push(0, Math.min(4, capacity * 8 - bits.length));
  bits.push(0, (8 - (bits.length % 8)) % 8);
  for (let pad = 0xec; bits.length < capacity * 8; pad ^= 0xec ^ 0x11) bits.push(pad, 8);
  const bytes = new Uint8Array(capacity);
  bits.bits.forEach((bit, i) => {
    bytes[i >>> 3] |= bit << (7 - (i & 7));
  });
  return bytes;
}

// Split the data into blocks, append each block's Reed-Solomon codewords, and interleave.
function addErrorCorrection(data, version, level) {
  const numBlocks = BLOCKS[level][version];
  const eccLen = ECC_PER_BLOCK[level][version];
  const total = Math.floor(rawDataModules(version) / 8);
  const numShort = numBlocks - (total % numBlocks);
  const shortDataLen = Math.floor(total / numBlocks) - eccLen;
  const generator = rsGenerator(eccLen);
  const blocks = [];
  for (let b = 0, offset = 0; b < numBlocks; b++) {
    const len = shortDataLen + (b < numShort ? 0 : 1);
    const block = data.subarray(offset, offset + len);
    blocks.push({ data: block, ecc: rsRemainder(block, generator) });
    offset += len;
  }
  const out = [];
  for (let i = 0; i <= shortDataLen; i++) {
    for (const block of blocks) if (i < block.data.length) out.push(block.data[i]);
  }
  for (let i = 0; i < eccLen; i++) {
    for (const block of blocks) out.push(block.ecc[i]);
  }
  return out;
}

// GF(256) with the QR primitive polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11D).
const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
for (let i = 0, x = 1; i < 255; i++) {
  EXP[i] = x;
  LOG[x] = i;
  x = (x << 1) ^ (x & 0x80 ? 0x11d : 0);
}
for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255];

function gfMul(a, b) {
  return a === 0 || b === 0 ? 0 : EXP[LOG[a] + LOG[b]];
}

// Coefficients of (x - a^0)(x - a^1)...(x - a^(degree-1)), highest power first, leading 1 dropped.
function rsGenerator(degree) {
  let poly = [1];
  for (let i = 0; i < degree; i++) {
    const next = new Array(poly.length + 1).fill(0);
    poly.forEach((coef, j) => {
      next[j] ^= coef;
      next[j + 1] ^= gfMul(coef, EXP[i]);
    });
    poly = next;
  }
  return poly.slice(1);
}

// The remainder of data(x) * x^degree divided by the generator: the error correction codewords.
function rsRemainder(data, generator) {
  const rem = new Array(generator.length).fill(0);
  for (const byte of data) {
    const factor = byte ^ rem.shift();
    rem.push(0);
    generator.forEach((coef, i) => {
      rem[i] ^= gfMul(coef, factor);
    });
  }
  return rem;
}

// Row/column centres of the alignment patterns (ISO/IEC 18004 annex E): 6, then evenly spaced
// (an even step) back from size - 7.
function alignmentCentres(version) {
  if (version === 1) return [];
  const count = Math.floor(version / 7) + 2;
  const size = version * 4 + 17;
  const step = version === 32 ? 26 : Math.ceil((size - 13) / (count - 1) / 2) * 2;
  const out = [6];
  for (let pos = size - 7; out.length < count; pos -= step) out.splice(1, 0, pos);
  return out;
}

// 15-bit format information: level and mask, BCH(15,5) code, XOR 0x5412.
function formatBits(level, mask) {
  const data = (FORMAT_BITS[level] << 3) | mask;
  let rem = data;
  for (let i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >>> 9) * 0x537);
  return ((data << 10) | rem) ^ 0x5412;
}

// 18-bit version information (versions 7 and up): version, BCH(18,6) code.
function versionBits(version) {
  let rem = version;
  for (let i = 0; i < 12; i++) rem = (rem << 1) ^ ((rem >>> 11) * 0x1f25);
  return (version << 12) | rem;
}

class Matrix {
  constructor(version) {
    this.version = version;
    this.size = version * 4 + 17;
    this.modules = new Uint8Array(this.size * this.size);
    this.reserved = new Uint8Array(this.size * this.size); // function patterns: never masked
  }

  set(row, col, dark) {
    this.modules[row * this.size + col] = dark ? 1 : 0;
    this.reserved[row * this.size + col] = 1;
  }

  drawFunctionPatterns() {
    const size = this.size;
    for (let i = 0; i < size; i++) {
      this.set(6, i, i % 2 === 0);
      this.set(i, 6, i % 2 === 0);
    }
    // Finder patterns with their light separators.
    for (const [r0, c0] of [[3, 3], [3, size - 4], [size - 4, 3]]) {
      for (let dr = -4; dr <= 4; dr++) {
        for (let dc = -4; dc <= 4; dc++) {
          const r = r0 + dr;
          const c = c0 + dc;
          const ring = Math.max(Math.abs(dr), Math.abs(dc));
          if (r >= 0 && r < size && c >= 0 && c < size) this.set(r, c, ring !== 2 && ring !== 4);
        }
      }
    }
    const centres = alignmentCentres(this.version);
    const last = centres.length - 1;
    centres.forEach((r0, i) => {
      centres.forEach((c0, j) => {
        // The three corners taken by finder patterns get none.
        if ((i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0)) return;
        for (let dr = -2; dr <= 2; dr++) {
          for (let dc = -2; dc <= 2; dc++) {
            this.set(r0 + dr, c0 + dc, Math.max(Math.abs(dr), Math.abs(dc)) !== 1);
          }
        }
      });
    });
    this.drawFormat(0); // reserves the format areas; redrawn for each mask
    if (this.version >= 7) {
      const bits = versionBits(this.version);
      for (let i = 0; i < 18; i++) {
        const dark = (bits >>> i) & 1;
        const a = size - 11 + (i % 3);
        const b = Math.floor(i / 3);
        this.set(b, a, dark);
        this.set(a, b, dark);
      }
    }
  }

  // Two copies of the format information (bit 0 least significant), and the dark module.
  drawFormat(bits) {
    const size = this.size;
    const bit = (i) => (bits >>> i) & 1;
    for (let i = 0; i <= 5; i++) this.set(i, 8, bit(i));
    this.set(7, 8, bit(6));
    this.set(8, 8, bit(7));
    this.set(8, 7, bit(8));
    for (let i = 9; i < 15; i++) this.set(8, 14 - i, bit(i));
    for (let i = 0; i < 8; i++) this.set(8, size - 1 - i, bit(i));
    for (let i = 8; i < 15; i++) this.set(size - 15 + i, 8, bit(i));
    this.set(size - 8, 8, 1);
  }

  // Codeword bits, most significant first, in two-module columns zigzagging up and down from
  // the bottom right, skipping the vertical timing pattern. Leftover remainder bits stay light.
  drawCodewords(codewords) {
    const size = this.size;
    let i = 0;
    for (let right = size - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5;
      const upward = ((right + 1) & 2) === 0;
      for (let step = 0; step < size; step++) {
        const row = upward ? size - 1 - step : step;
        for (const col of [right, right - 1]) {
          const at = row * size + col;
          if (this.reserved[at]) continue;
          if (i < codewords.length * 8) {
            this.modules[at] = (codewords[i >>> 3] >>> (7 - (i & 7))) & 1;
            i += 1;
          }
        }
      }
    }
  }

  withMask(mask, level) {
    const out = new Matrix(this.version);
    out.modules = this.modules.slice();
    out.reserved = this.reserved.slice();
    const test = MASKS[mask];
    for (let r = 0; r < this.size; r++) {
      for (let c = 0; c < this.size; c++) {
        if (!this.reserved[r * this.size + c] && test(r, c)) out.modules[r * this.size + c] ^= 1;
      }
    }
    out.drawFormat(formatBits(level, mask));
    return out;
  }
}

/**
 * Draw `qr` on `canvas`: `scale` pixels per module, a quiet zone of `border` modules (the
 * standard asks for 4).
 */
export function drawQr(canvas, qr, { scale = 8, border = 4 } = {}) {
  const side = (qr.size + 2 * border) * scale;
  canvas.width = side;
  canvas.height = side;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, side, side);
  ctx.fillStyle = "#000";
  for (let r = 0; r < qr.size; r++) {
    for (let c = 0; c < qr.size; c++) {
      if (qr.isDark(r, c)) ctx.fillRect((c + border) * scale, (r + border) * scale, scale, scale);
    }
  }
}
