"""An analysis is computed once for the same inputs, however often Snakemake reruns its job.

Snakemake reruns every job downstream of one it reruns, even where that job keeps its
rounds as they were: after a change of ``resources.group_chains`` or a forced ``train``,
every kept round is touched, and every LMC, landscape and weight statistic of it ran again,
from the same bytes, to the same numbers (a landscape of a paper chain is minutes). The
analysis verbs therefore keep a copy of each artifact they write beside it
(``analysis/.kept/<name>.<key>.kept``; an analysis is kilobytes to a few megabytes), under
a key of everything its numbers depend on: the verb and all its arguments (settings,
options, paths), the bytes of every input file and the software
(:func:`evotickets.checkpoint.software_fingerprint`: the numeric packages' versions, the settings that change numbers, and a hash of evotickets' source;
here also numpy's, scipy's and ml_dtypes' versions, which the weight statistics compute
with, and the variables that choose the device). A rerun whose key finds its file puts it
back instead of computing, unless the file's record of its inputs no longer matches them
(:func:`evotickets.artifacts.stale_inputs`: a round rewritten while the first run read it).

Why a key of the bytes, not the reverted keep of an update() output (1299940): the
analysis rules' outputs stay plain, so Snakemake deletes them before a job and after a
failed one, and never records an old analysis as finished; and a kept file is only ever
the result of this exact computation, so nothing about it needs checking again but that
it reads whole and that its record of its inputs matches them. Anything else (another
round, option, seed's file, a rewritten input, a code change) is another key, and the verb computes. ``EVOTICKETS_RECOMPUTE=1`` computes in
any case. One file is kept per analysis: a new result removes the older ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .artifacts import ArtifactError, ArtifactUnavailable, read_artifact, stale_inputs
from .durable import atomic_path, fsync_dir, make_dirs, remove_stale_temps

#: The folder, beside an analysis artifact, that holds the kept results.
KEPT_FOLDER = ".kept"
#: Arguments that do not change an analysis's numbers: where it is written (the kept file
#: sits beside it) and where JAX caches compiled programs.
_NOT_NUMERIC_ARGS = frozenset({"out", "jax_cache", "func"})
#: Beyond the checkpoints' fingerprint: the packages the weight statistics compute with
#: (numpy, scipy's Spearman ρ) and the variables that choose the device an analysis runs on
#: (a GPU's numbers differ from a CPU's in the last bits).
ANALYSIS_PACKAGES = ("numpy", "scipy", "ml_dtypes")
ANALYSIS_SETTINGS_ENV = ("EVOTICKETS_PLATFORM", "EVOTICKETS_CPU_DEVICES", "JAX_ENABLE_X64")
_CHUNK = 1 << 20


def _analysis_software() -> list[str]:
    import importlib.metadata as md

    from .checkpoint import software_fingerprint

    out = list(software_fingerprint())
    for pkg in ANALYSIS_PACKAGES:
        try:
            out.append(f"{pkg}={md.version(pkg)}")
        except md.PackageNotFoundError:
            out.append(f"{pkg}=absent")
    out += [f"{name}={os.environ.get(name, '')}" for name in ANALYSIS_SETTINGS_ENV]
    return out


def analysis_key(verb: str, args: Any, inputs: Iterable[str | os.PathLike]) -> str:
    """A hash of what determines the artifact ``verb`` writes from ``args`` (an argparse
    namespace): its arguments but ``--out`` and ``--jax-cache``, each input file's bytes, and
    the software. Equal keys give equal artifacts, since an analysis draws its randomness
    from JAX keys of its settings only."""
    named = {k: v for k, v in sorted(vars(args).items()) if k not in _NOT_NUMERIC_ARGS}
    h = hashlib.sha256()
    h.update(json.dumps([verb, named, _analysis_software()], default=str).encode())
    for path in inputs:
        h.update(f"\0input of {os.path.getsize(path)} bytes\0".encode())
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
    name = re.compile(re.escape(out.name) + r"\.[0-9a-f]{32}\.kept")
    return [p for p in folder.iterdir() if name.fullmatch(p.name)]


def _warn(what: str, err: OSError) -> None:
    """A kept copy is a saving, never a result: failing to make or remove one (a full disk,
    a folder without write permission) must not fail a job that has its result."""
    print(f"warning: {what}: {err}; the analysis itself is unaffected", file=sys.stderr)


def restore(out: str | os.PathLike, key: str) -> Path | None:
    """Put a copy of the kept result of ``key`` at ``out`` (atomically and durably; its
    mtime is now, as for a file the job wrote) and return the kept file, or None where there
    is none, it does not read whole, or its record of its inputs does not match them now
    (it is then removed, and the caller computes), or it or an input cannot be read now
    (:class:`~evotickets.artifacts.ArtifactUnavailable`: kept, and the caller computes)."""
    kept = kept_path(out, key)
    if not kept.is_file():
        return None
    try:
        _, attrs = read_artifact(kept, "analysis")  # every dataset read: checksums checked
        usable = not stale_inputs(out, attrs)  # its record's paths: relative to out's folder
    except ArtifactUnavailable:  # it or an input cannot be read now: kept, and computed
        return None
    except ArtifactError:  # damaged
        usable = False
    if not usable:
        try:
            kept.unlink(missing_ok=True)
        except OSError as err:
            _warn(f"could not remove the unusable kept result {kept}", err)
        return None
    _copy(kept, Path(out))
    return kept


def remember(out: str | os.PathLike, key: str) -> Path | None:
    """Keep a copy of the artifact just written at ``out`` as the result of ``key``, and
    remove the results kept for ``out`` under other keys. A copy, not a hard link: an
    artifact damaged or edited in place later must not change what is kept. Returns the
    kept file, or None where it could not be written (a warning; the job still succeeds)."""
    out, kept = Path(out), kept_path(out, key)
    try:
        make_dirs(kept.parent)
        _copy(out, kept)
        for other in _kept_of(out):
            if other != kept:
                other.unlink(missing_ok=True)
        remove_stale_temps(kept.parent)  # a copy killed mid-write (SIGKILL) left its temp
        fsync_dir(kept.parent)
    except OSError as err:
        _warn(f"could not keep a copy of {out} in {kept.parent}", err)
        return None
    return kept


def _copy(src: Path, dest: Path) -> None:
    """Copy ``src`` onto ``dest`` atomically and durably (:func:`durable.atomic_path`): a
    reader never sees half a file, and a kill leaves the old one."""
    with atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)
