"""Which build this is: the version (pyproject.toml) and the git commit it was built from.

The commit is baked into the wheel at build time (``setup.py`` writes ``verifier/_commit.txt``
into the build, from ``git`` in the source tree), so an installed kit without git or a
checkout still knows it. Running from a checkout (an editable install, the tests), ``git``
is asked directly. No setuptools-scm: the version stays the one written in pyproject.toml
(tags are not part of this project's release routine), only the commit is added.
"""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Sequence
from functools import cache
from importlib import metadata, resources
from pathlib import Path

DIST = "mleg-verifier"
COMMIT_FILE = "_commit.txt"
UNKNOWN = "unknown"


def git_commit(tree: Path) -> str | None:
    """``abcdef123456`` (``-dirty`` when tracked files differ) for a git tree, else None."""
    try:
        head = subprocess.run(
            ["git", "-C", str(tree), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}-dirty" if changed else head or None


def version() -> str:
    try:
        return metadata.version(DIST)
    except metadata.PackageNotFoundError:
        return "0+unknown"


@cache
def commit() -> str:
    baked = resources.files("verifier").joinpath(COMMIT_FILE)
    try:
        text = baked.read_text(encoding="ascii").strip()
    except (FileNotFoundError, OSError, UnicodeDecodeError):
        text = ""
    if text:
        return text
    source = Path(__file__).resolve().parents[2]
    if (source / ".git").exists():
        return git_commit(source) or UNKNOWN
    return UNKNOWN


def version_line(prog: str) -> str:
    """``verifier 0.2.0 (commit abcdef123456)``."""
    return f"{prog} {version()} (commit {commit()})"


class VersionAction(argparse.Action):
    """``--version`` for ``verifier`` and ``issuer-stub``: version and commit, then exit 0."""

    def __init__(self, option_strings: Sequence[str], dest: str, **_kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print version and commit")

    def __call__(self, parser: argparse.ArgumentParser, *_args: object) -> None:
        print(version_line(parser.prog))  # stdout, as argparse's own version action
        parser.exit(0)
