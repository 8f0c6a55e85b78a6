"""One sentence for a failed file operation: what failed, on which path, and what to do."""

from __future__ import annotations

import errno

_WHAT_TO_DO = {
    errno.ENOENT: "check the path (its folder must exist)",
    errno.ENOTDIR: "check the path (a part of it is a file, not a folder)",
    errno.EISDIR: "give a file, not a folder",
    errno.EACCES: "check the permissions, or choose a folder you may write to",
    errno.EPERM: "check the permissions, or choose a folder you may write to",
    errno.EROFS: "the file system is read-only: choose another folder",
    errno.ENOSPC: "the disk is full: free some space and try again",
    errno.EEXIST: "it is there already: choose another name or remove it first",
    errno.ENAMETOOLONG: "choose a shorter path",
}


def describe(exc: OSError) -> str:
    """E.g. ``cannot use /nope/out: No such file or directory; check the path (...)``."""
    path = exc.filename if exc.filename is not None else "a file"
    reason = exc.strerror or exc.__class__.__name__
    hint = _WHAT_TO_DO.get(exc.errno or 0, "check the path and try again")
    return f"cannot use {path}: {reason}; {hint}"
