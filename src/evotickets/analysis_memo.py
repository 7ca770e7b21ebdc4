"""An analysis is computed once for the same inputs, however often Snakemake reruns its job.

Snakemake reruns every job downstream of one it reruns, even where that job keeps its
rounds as they were: after a change of ``resources.group_chains`` or a forced ``train``,
every kept round is touched, and every LMC, landscape and weight statistic of it ran again,
from the same bytes, to the same numbers (a landscape of a paper chain is minutes). The
analysis verbs therefore keep a copy of each artifact they write beside it
(``analysis/.kept/<name>.<key>.kept``; an analysis is kilobytes to a few megabytes), under a key of everything its numbers depend on:
the verb and all its arguments (settings, options, paths), the bytes of every input file
and the software (:func:`evotickets.checkpoint.software_fingerprint`: the numeric
packages' versions, the settings that change numbers, and a hash of evotickets' source).
A rerun whose key finds its file puts it back instead of computing.

Why a key of the bytes, not the reverted keep of an update() output (1299940): the
analysis rules' outputs stay plain, so Snakemake deletes them before a job and after a
failed one, and never records an old analysis as finished; and a kept file is only ever
the result of this exact computation, so nothing about it needs checking again but that
it reads whole. Anything else (another round, option, seed's file, a rewritten input, a
code change) is another key, and the verb computes. ``EVOTICKETS_RECOMPUTE=1`` computes in
any case. One file is kept per analysis: a new result removes the older ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .artifacts import ArtifactError, read_artifact
from .durable import durable_replace, fsync_dir, make_dirs, temp_path

#: The folder, beside an analysis artifact, that holds the kept results.
KEPT_FOLDER = ".kept"
#: Arguments that do not change an analysis's numbers: where it is written (the kept file
#: sits beside it) and where JAX caches compiled programs.
_NOT_NUMERIC_ARGS = frozenset({"out", "jax_cache", "func"})
_CHUNK = 1 << 20


def analysis_key(verb: str, args: Any, inputs: Iterable[str | os.PathLike]) -> str:
    """A hash of what determines the artifact ``verb`` writes from ``args`` (an argparse
    namespace): its arguments but ``--out`` and ``--jax-cache``, each input file's bytes, and
    the software. Equal keys give equal artifacts, since an analysis draws its randomness
    from JAX keys of its settings only."""
    from .checkpoint import software_fingerprint

    named = {k: v for k, v in sorted(vars(args).items()) if k not in _NOT_NUMERIC_ARGS}
    h = hashlib.sha256()
    h.update(json.dumps([verb, named, software_fingerprint()], default=str).encode())
    for path in inputs:
        h.update(b"\0input\0")
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
    return h.hexdigest()[:32]


def kept_path(out: str | os.PathLike, key: str) -> Path:
    """Where the result of ``key`` for the artifact ``out`` is kept."""
    out = Path(out)
    return out.parent / KEPT_FOLDER / f"{out.name}.{key}.kept"


def _kept_of(out: Path) -> list[Path]:
    folder = out.parent / KEPT_FOLDER
    if not folder.is_dir():
        return []
    return [
        p for p in folder.iterdir() if p.name.startswith(f"{out.name}.") and p.suffix == ".kept"
    ]


def restore(out: str | os.PathLike, key: str) -> Path | None:
    """Put a copy of the kept result of ``key`` at ``out`` (atomically and durably; its
    mtime is now, as for a file the job wrote) and return the kept file, or None where there is none or it
    does not read whole (it is then removed, and the caller computes)."""
    kept = kept_path(out, key)
    if not kept.is_file():
        return None
    try:
        read_artifact(kept, "analysis")  # every dataset read: HDF5 checks its checksum
    except (ArtifactError, OSError, ValueError, KeyError):  # damaged: compute instead
        kept.unlink(missing_ok=True)
        return None
    tmp = temp_path(out)
    try:
        shutil.copyfile(kept, tmp)
        durable_replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return kept


def remember(out: str | os.PathLike, key: str) -> Path:
    """Keep a copy of the artifact just written at ``out`` as the result of ``key``, and
    remove the results kept for ``out`` under other keys. A copy, not a hard link: an
    artifact damaged or edited in place later must not change what is kept."""
    out, kept = Path(out), kept_path(out, key)
    make_dirs(kept.parent)
    tmp = temp_path(kept)
    try:
        shutil.copyfile(out, tmp)
        durable_replace(tmp, kept)
    finally:
        tmp.unlink(missing_ok=True)
    for other in _kept_of(out):
        if other != kept:
            other.unlink(missing_ok=True)
    fsync_dir(kept.parent)
    return kept
