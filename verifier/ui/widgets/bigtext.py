"""A block-letter font for the verdict word, so it can be read across a counter.

Only the letters of the verdict titles (``view.TITLES``) and the verdict glyphs (a tick, a
cross, an exclamation mark: shapes that differ without colour) exist; a word with any other
letter gets ``None`` and is shown as plain bold text. Row 0 carries Polish diacritics (Ż, Ź, Ć).
"""

from __future__ import annotations

_GLYPHS = {
    "A": (" ███ ", "█   █", "█████", "█   █", "█   █"),
    "C": (" ████", "█    ", "█    ", "█    ", " ████"),
    "D": ("████ ", "█   █", "█   █", "█   █", "████ "),
    "E": ("█████", "█    ", "████ ", "█    ", "█████"),
    "F": ("█████", "█    ", "████ ", "█    ", "█    "),
    "H": ("█   █", "█   █", "█████", "█   █", "█   █"),
    "I": ("███", " █ ", " █ ", " █ ", "███"),
    "K": ("█   █", "█  █ ", "███  ", "█  █ ", "█   █"),
    "L": ("█    ", "█    ", "█    ", "█    ", "█████"),
    "N": ("█   █", "██  █", "█ █ █", "█  ██", "█   █"),
    "O": (" ███ ", "█   █", "█   █", "█   █", " ███ "),
    "P": ("████ ", "█   █", "████ ", "█    ", "█    "),
    "R": ("████ ", "█   █", "████ ", "█  █ ", "█   █"),
    "S": (" ████", "█    ", " ███ ", "    █", "████ "),
    "U": ("█   █", "█   █", "█   █", "█   █", " ███ "),
    "V": ("█   █", "█   █", "█   █", " █ █ ", "  █  "),
    "W": ("█   █", "█   █", "█ █ █", "██ ██", "█   █"),
    "Z": ("█████", "   █ ", "  █  ", " █   ", "█████"),
    " ": (" ", " ", " ", " ", " "),
    "✓": ("       ██", "      ██ ", "██   ██  ", " ██ ██   ", "  ███    "),
    "✗": ("██   ██", " ██ ██ ", "  ███  ", " ██ ██ ", "██   ██"),
    "!": ("██", "██", "██", "  ", "██"),
}
_ACCENTS = {"Ż": ("Z", "  ▄  "), "Ź": ("Z", "   ▄▀"), "Ć": ("C", "   ▄▀")}
HEIGHT = 6


def big_lines(word: str) -> list[str] | None:
    """The word in block letters: ``HEIGHT`` lines of equal width, or None if unsupported."""
    rows = [""] * HEIGHT
    for n, char in enumerate(word):
        base, accent = _ACCENTS.get(char, (char, None))
        glyph = _GLYPHS.get(base)
        if glyph is None:
            return None
        width = len(glyph[0])
        gap = " " if n else ""
        rows[0] += gap + (accent or "").ljust(width)
        for i, line in enumerate(glyph, start=1):
            rows[i] += gap + line
    return rows if any(r.strip() for r in rows[:1]) else rows[1:]


def scaled(lines: list[str], factor: int) -> list[str]:
    """Each cell repeated ``factor`` times across and down (for large screens)."""
    return ["".join(char * factor for char in line) for line in lines for _ in range(factor)]
