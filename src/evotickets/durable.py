"""Durable atomic file replacement, the one way every writer in evotickets puts a file in place.

``os.replace`` alone is atomic but not durable: the rename is a directory update that the kernel
may write to disk before the file's data. After a power loss (or a node crash on a cluster) the
file can then exist under its final name with missing contents, and a resumed workflow would
trust it. So a writer writes ``<name>.tmp``, then :func:`durable_replace`:

1. ``fsync`` the temporary file, so its contents are on disk before any name points at them;
2. ``os.replace`` it onto the final name (atomic: readers see the old file or the new one);
3. ``fsync`` the directory, so the rename itself survives a crash.

A folder made for a file (:func:`make_dirs`) is fsynced into its parent for the same reason.

Standard library only, so the numpy-only data loader can use it without pulling in jax.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "durable_replace", "fsync_dir", "fsync_file", "make_dirs"]

#: errno values of file systems that cannot sync a directory (some network and FUSE mounts);
#: there the rename is as durable as the file system allows, so they are not an error.
_DIR_FSYNC_UNSUPPORTED = {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF}


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Flush ``path``'s contents to disk. A read-only descriptor suffices on POSIX: fsync
    flushes the inode, whichever descriptor names it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Flush directory ``path`` (its entries: creations, renames) to disk. A no-op on Windows,
    where directories cannot be opened, and on file systems that refuse to sync directories."""
    if os.name == "nt":  # pragma: no cover
        return
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as err:
        if err.errno in _DIR_FSYNC_UNSUPPORTED:
            return
        raise
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in _DIR_FSYNC_UNSUPPORTED:
            raise
    finally:
        os.close(fd)


def make_dirs(path: str | os.PathLike[str]) -> Path:
    """``mkdir -p path``, durably: each folder it creates is an entry in its parent, which is
    fsynced after the creation, so a file renamed into a new folder (and its folder fsynced)
    cannot vanish with the folder after a crash. Folders that exist are left as they are.
    Returns ``path``."""
    path = Path(path)
    missing = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:  # made meanwhile by another job; a file there fails below
            if not folder.is_dir():
                raise
            continue
        fsync_dir(folder.parent)
    return path


def durable_replace(tmp: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Move the finished file ``tmp`` onto ``dest`` atomically and durably (see the module
    docstring): fsync ``tmp``, ``os.replace``, fsync ``dest``'s directory. Returns ``dest``."""
    dest = Path(dest)
    fsync_file(tmp)
    os.replace(tmp, dest)
    fsync_dir(dest.parent)
    return dest


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str], suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``dest`` (``<dest><suffix>``) to write into; when the block
    ends normally it is moved onto ``dest`` with :func:`durable_replace`. Whatever happens, no
    temporary file is left behind, and a failed write leaves the old ``dest`` (or none)."""
    dest = Path(dest)
    tmp = dest.with_name(dest.name + suffix)
    try:
        yield tmp
        durable_replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
