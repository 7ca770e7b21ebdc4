"""Durable atomic file replacement, the one way every writer in evotickets puts a file in place.

``os.replace`` alone is atomic but not durable: the rename is a directory update that the kernel
may write to disk before the file's data. After a power loss (or a node crash on a cluster) the
file can then exist under its final name with missing contents, and a resumed workflow would
trust it. So a writer writes a temporary file of its own beside the final one
(:func:`temp_path`, ``<name>.<pid>-<random>.tmp``), then :func:`durable_replace`:

1. ``fsync`` the temporary file, so its contents are on disk before any name points at them;
2. ``os.replace`` it onto the final name (atomic: readers see the old file or the new one);
3. ``fsync`` the directory, so the rename itself survives a crash.

4. ``fsync`` the parent of each folder on the way to it, once per process
   (:func:`fsync_ancestors`): a folder is itself an entry in its parent, and whoever made
   it (:func:`make_dirs`, or Snakemake, which makes every output's folder before the job
   runs) may not have fsynced that entry, so after a crash the folder could vanish with
   the file just renamed into it.

Why a temporary name per writer, not one ``<name>.tmp``: two processes can write the same file
at once (a cluster job resubmitted while its first instance still runs on a node the
scheduler lost; parallel jobs downloading one data file). With a shared name the second
truncates the file the first is writing, and the first's rename can then put a mix of both
under the final name (HDF5's file lock, which would refuse the second open, is often switched
off on cluster file systems). With one name each, every rename moves a complete file.

Standard library only, so the numpy-only data loader can use it without pulling in jax.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "atomic_path",
    "durable_replace",
    "fsync_ancestors",
    "fsync_dir",
    "fsync_file",
    "make_dirs",
    "remove_stale_temps",
    "temp_path",
]

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


#: Folders whose entry in their parent this process has fsynced (:func:`fsync_ancestors`).
_SYNCED_FOLDERS: set[Path] = set()


#: errnos that end :func:`fsync_ancestors`'s walk up instead of failing the write: a parent
#: this user may not open, or a read-only mount (whose folders no run of ours made).
_ANCESTOR_WALK_ENDS = {errno.EACCES, errno.EPERM, errno.EROFS}


def fsync_ancestors(folder: str | os.PathLike[str]) -> None:
    """Make the way to ``folder`` durable: fsync the parent of ``folder`` and of each folder
    above it, so that no folder on the path can vanish after a crash, whoever made it. Each
    folder is done once per process (:data:`_SYNCED_FOLDERS`; evotickets never removes a
    folder, so one made again under the same name does not occur), so a round's many writes
    pay it once. The walk follows symlinks to the real folders, and stops at the file
    system's mount point (its folders above were made with the mount, long before) and at a
    parent it may not open or that is read-only (``/home`` at mode 711): folders made by
    others. Any other error (EIO, ENOSPC) is raised, as :func:`fsync_dir` raises it."""
    folder = Path(os.path.realpath(folder))
    device = folder.stat().st_dev
    for f in (folder, *folder.parents):
        if f == f.parent or f in _SYNCED_FOLDERS:
            return
        try:
            walk_ends = f.parent.stat().st_dev != device  # f is the mount point
            if not walk_ends:
                fsync_dir(f.parent)
        except OSError as err:
            if err.errno not in _ANCESTOR_WALK_ENDS:
                raise
            walk_ends = True
        _SYNCED_FOLDERS.add(f)
        if walk_ends:
            return


def make_dirs(path: str | os.PathLike[str]) -> Path:
    """``mkdir -p path``, durably (:func:`fsync_ancestors`), so a file renamed into a new
    folder (and its folder fsynced) cannot vanish with the folder after a crash. Returns
    ``path``."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    fsync_ancestors(path)
    return path


def durable_replace(tmp: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Move the finished file ``tmp`` onto ``dest`` atomically and durably (see the module
    docstring): fsync ``tmp``, ``os.replace``, fsync ``dest``'s directory and, once per
    process, the folders above it. Returns ``dest``."""
    dest = Path(dest)
    fsync_file(tmp)
    os.replace(tmp, dest)
    fsync_dir(dest.parent)
    fsync_ancestors(dest.parent)
    return dest


def temp_path(dest: str | os.PathLike[str]) -> Path:
    """A temporary path beside ``dest`` that no other writer uses:
    ``<dest>.<pid>-<8 random hex digits>.tmp`` (why one per writer: the module docstring).
    A process killed mid-write leaves it behind; :func:`remove_stale_temps` sweeps them."""
    dest = Path(dest)
    return dest.with_name(f"{dest.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")


#: A temporary file untouched for this long is a killed writer's leftover, not a write in
#: progress: writing an artifact or a checkpoint takes seconds.
STALE_TEMP_SECONDS = 600.0


#: The names this module's writers give their temporary files: :func:`temp_path`'s
#: ``<name>.<pid>-<8 hex digits>.tmp`` and the one shared ``<name>.h5.tmp`` of the writers
#: before it. Nothing else in a folder is ever swept.
_OWN_TEMP = re.compile(r"(.+\.\d+-[0-9a-f]{8}|.+\.h5)\.tmp")


def remove_stale_temps(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete this module's temporary files in ``folder`` (:data:`_OWN_TEMP`) untouched for
    :data:`STALE_TEMP_SECONDS`: the leftovers of writers killed outright (SIGKILL, a crash),
    each as large as its artifact. A younger one may be another instance's write in progress
    (deleting it would make its rename fail), so it stays; so does every other file, and one
    that cannot be deleted is left for the next sweep (never an error in a finished round).
    Returns what it deleted."""
    now, removed = time.time(), []
    for p in Path(folder).iterdir():
        if not (_OWN_TEMP.fullmatch(p.name) and p.is_file()):
            continue
        if now - _mtime(p, now) < STALE_TEMP_SECONDS:
            continue
        try:
            p.unlink(missing_ok=True)
        except OSError:  # another user's file in a shared folder, say
            continue
        removed.append(p)
    return removed


def _mtime(path: Path, default: float) -> float:
    """``path``'s modification time, ``default`` where it is gone (renamed meanwhile)."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return default


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path of this writer's own beside ``dest`` (:func:`temp_path`) to
    write into; when the block ends normally it is moved onto ``dest`` with
    :func:`durable_replace`. Whatever happens, no temporary file of this writer is left
    behind, and a failed write leaves the old ``dest`` (or none)."""
    with atomic_paths(dest) as (tmp,):
        yield tmp


#: Where Snakemake keeps its copy of an ``update()`` output (the round rules' artifacts),
#: taken before the job runs and copied back over the output when the job fails
#: (``snakemake.persistence``: ``.snakemake/backups/<output path>``, in the working folder,
#: which is where jobs run).
SNAKEMAKE_BACKUPS = Path(".snakemake") / "backups"


def drop_snakemake_backup(dest: str | os.PathLike[str]) -> None:
    """Remove Snakemake's backup of ``dest``, just written whole: an earlier version must
    never be put back over it. Why: Snakemake copies its backup of each ``update()`` output
    back when a job fails, which put the previous settings' round over every member a group
    job had written before the failing one, with a fresh time that kept the next run from
    training it again. Without a backup, keep-incomplete (profiles/default) keeps the new
    file. A no-op outside a Snakemake job (no backup there)."""
    path = Path(dest)
    relative = path.relative_to(path.anchor) if path.is_absolute() else path
    with contextlib.suppress(FileNotFoundError, IsADirectoryError, NotADirectoryError):
        (SNAKEMAKE_BACKUPS / relative).unlink()


@contextlib.contextmanager
def atomic_paths(*dests: str | os.PathLike[str]) -> Iterator[list[Path]]:
    """:func:`atomic_path` for a set of files that belong together (claims.md, .html, .nc):
    a temporary path for each; when the block ends normally every one is fsynced first, and
    only then each is moved onto its ``dest``. A failed write, or a failed fsync (where a full
    disk or quota often shows on network file systems), leaves every old ``dest`` in place:
    a new file never stands beside an old one. Only a crash between the renames, which take
    microseconds, could still leave a mix."""
    tmps = [temp_path(d) for d in dests]
    try:
        yield tmps
        if len(tmps) > 1:  # all on disk before any rename; for one, durable_replace does it
            for tmp in tmps:
                fsync_file(tmp)
        for tmp, dest in zip(tmps, dests, strict=True):
            durable_replace(tmp, dest)
            drop_snakemake_backup(dest)
    finally:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
