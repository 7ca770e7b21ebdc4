"""HDF5 artifacts: one schema per kind, atomic writes, validation on read.

Every file is readable with plain h5py: tensors live in groups mirroring the flax tree
(``params/Conv_0/kernel``), scalars and provenance in attrs. Nothing is pickled, ever.
A write goes to a temporary file of its own (``<name>.<pid>-<random>.tmp``) and is moved into
place by :func:`evotickets.durable.atomic_path` (fsync the file, ``os.replace``, fsync the
folder), so a killed job or a power loss leaves either the old complete file or none, never a
truncated one under the final name.
"""

from __future__ import annotations

import datetime as _dt
import errno
import functools
import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import h5py
import numpy as np

from . import __version__
from .durable import atomic_path, make_dirs, temp_path
from .names import WEIGHT_STATISTICS, is_gd, without_es_fitness_keys
from .paths import is_transfer_round

SCHEMA_VERSION = 1
# kind → rule that writes it (a round's mask.h5 and trained.h5 are both outputs of `train`)
KINDS = {"init": "init", "mask": "train", "trained": "train", "analysis": None}
#: The attributes the verbs and reports read from every artifact of a kind (checked on read,
#: so that a file written by other code, or edited, fails naming itself and the fix rather
#: than on a bare KeyError in the accuracy table or ``collect``).
REQUIRED_ATTRS = {
    "mask": ("round", "method", "kept_prunable", "remaining_fraction"),
    "trained": (
        "round",
        "task",
        "strategy",
        "method",
        "seed",
        "metric_name",
        "final_metric",
        "remaining_fraction",
    ),
}
#: The groups of θ-shaped arrays inside artifacts, one dataset per tensor
#: (``<group>/<tensor name>``): their writers and readers name them here, so a renamed group
#: cannot leave an optional read silently empty (a permuted ticket starting from θ0).
PARAMS_GROUP = "params"  # θ0 in init.h5, the trained θ in trained.h5
MASK_GROUP = "mask"  # the round's mask, in mask.h5 and trained.h5
SIGMA_GROUP = "sigma"  # trained.h5: the strategy's per-weight σ, where it has one
TASK_STATE_GROUP = "task_state"  # trained.h5: a control task's observation statistics
THETA_START_GROUP = "theta_start"  # mask.h5: a ticket's start other than θ0 (permutations)
REWIND_GROUP = "rewind"  # round 0's trained.h5: the rewind point (late rewinding)
CURVES_GROUP = "curves"  # trained.h5: the training curves

#: The curve whose last value every trainer records as a trained round's ``final_metric``
#: (ES, Adam and PPO alike): the attribute, which tables and collect read, has no checksum,
#: the curve has one, so a read compares the two.
FINAL_METRIC_CURVE = f"{CURVES_GROUP}/eval_metric"
#: The required attributes that are numbers: a hand-edited string failed in the table or
#: ``collect`` on "could not convert string to float", naming no file.
NUMERIC_ATTRS = ("round", "seed", "kept_prunable", "final_metric", "remaining_fraction")
# analysis artifacts: file stem → rule (workflow/rules/analysis.smk)
ANALYSIS_RULES = dict.fromkeys(WEIGHT_STATISTICS, "weight_statistics")
#: The per-round statistics every snr_magnitude file holds (collect's variables of the same
#: names, with the later two).
SNR_MAGNITUDE_ARRAYS = (
    "rho_snr_magnitude",
    "rho_snr_vs_round0",
    "rho_magnitude_vs_round0",
    "threshold_snr",
    "threshold_magnitude",
    "overlap_kept",
)
#: The per-round, per-tensor statistics every layerwise file holds, one column per tensor
#: of its ``tensors`` attribute (written by the layerwise verb, read by collect).
LAYERWISE_ARRAYS = ("kept_ratio", "mean_abs_theta", "mean_sigma")
#: What ``collect`` reads of each analysis (its ``analysis`` attribute): (arrays, attributes).
#: Checked on read, so that another analysis's file under this name (snr_magnitude and
#: layerwise have one digest: no options) or an edited one fails naming itself, rather than
#: reading as all-NaN or on a bare KeyError. (Arrays added later, snr_magnitude's sigma_cv
#: and rho_sigma_abs_theta and lmc's round_right, are read where present.)
ANALYSIS_CONTENTS = {
    "lmc": (("alpha", "errors", "barrier", "round_left"), ()),  # seeds: `right` (collect)
    "landscape": (("grid", "round", "curvature", "surface_2d"), ()),
    "snr_magnitude": (("round", *SNR_MAGNITUDE_ARRAYS), ()),
    "layerwise": (("round", *LAYERWISE_ARRAYS), ("tensors",)),
}


#: What h5py raises reading a damaged file: OSError for a truncated or foreign one, and for
#: damage inside (a flipped byte of a B-tree or heap, found by HDF5's metadata checksums)
#: RuntimeError ("Object visitation failed", "Error iterating over attributes"), KeyError
#: ("Unable to synchronously open object") or ValueError. Every reader catches them all.
H5_READ_ERRORS = (OSError, RuntimeError, KeyError, ValueError)


class ArtifactError(RuntimeError):
    """An artifact is missing, truncated, of another schema, or from other settings."""


class ArtifactUnavailable(ArtifactError):
    """An artifact that is there but cannot be read now: no permission, a lock another
    process holds, an I/O error of its file system, HDF5's mark of a file open for writing.
    Not damage: nothing may retrain, replace or delete it for that (a finished round read
    as damaged was trained again and overwritten, and every later round with it)."""


#: Why an OSError's errno means the file cannot be read now, and what to do about it.
_UNAVAILABLE = {
    **dict.fromkeys(
        (errno.EACCES, errno.EPERM),
        "no permission to read it: give this user read access, or run as its owner; then rerun",
    ),
    **dict.fromkeys(
        (errno.EAGAIN, errno.EBUSY),
        "another process holds it open (a lock): let that process finish, or stop it; then rerun",
    ),
    errno.EIO: "its file system gave an I/O error: rerun once the storage answers (if it "
    "persists, check the storage before deleting anything)",
    errno.ESTALE: "its network file system gave a stale handle (the file was replaced while "
    "being opened): rerun",
    errno.EMFILE: "this process ran out of file handles: rerun",
    errno.ENFILE: "the system ran out of file handles: rerun",
    errno.ENOMEM: "the system ran out of memory while opening it: rerun",
    **dict.fromkeys(
        (errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOLCK),
        "its file system does not support HDF5's file locks (common on network file "
        "systems): set HDF5_USE_FILE_LOCKING=FALSE in the jobs' environment and rerun",
    ),
}
#: HDF5's refusal of a file whose superblock says a writer has it open (one was killed).
_OPEN_FOR_WRITE = "already open for write"


def unavailable(path: str | os.PathLike, err: BaseException) -> ArtifactUnavailable | None:
    """The :class:`ArtifactUnavailable` that ``err``, raised opening ``path``, stands for, or
    None where it says the file is damaged (truncated, not HDF5, a failed checksum)."""
    if not isinstance(err, OSError):
        return None
    # h5py's OSError carries the errno of the call that failed (HDF5's file open or lock)
    why = _UNAVAILABLE.get(err.errno) if err.errno is not None else None
    if why is None and _OPEN_FOR_WRITE in str(err):
        why = (
            "HDF5 marks it as open for writing: if no process writes it (a writer was "
            f"killed), clear the mark with `h5clear -s {path}` (HDF5's command-line tools) "
            "and rerun"
        )
    if why is None:
        return None
    return ArtifactUnavailable(
        f"cannot read {path} now ({err}); it is not damaged, so it is kept: {why}"
    )


def unreadable(path: str | os.PathLike, kind: str, err: BaseException) -> ArtifactError:
    """The error for an artifact that h5py could not read (``err``): unavailable now
    (:func:`unavailable`), else damaged, with how to make it again."""
    if (error := unavailable(path, err)) is not None:
        return error
    return ArtifactError(
        f"unreadable artifact {path} (truncated, damaged or not HDF5: {err}): "
        f"{rerun_hint(Path(path), kind)}"
    )


def raise_if_unavailable(path: str | os.PathLike, err: BaseException) -> None:
    """Raise :func:`unavailable`'s error for ``err``, if it is one (every reader that would
    call a file it cannot open damaged asks this first)."""
    if (error := unavailable(path, err)) is not None:
        raise error from err


def require_results_folder(results: str | os.PathLike, experiment: str | None = None) -> Path:
    """``results`` (results/<experiment> of a run) as a Path, or an :class:`ArtifactError`
    if it is not a folder: most likely a mistyped experiment, which would otherwise read as
    a run with no artifacts."""
    results = Path(results)
    if not results.is_dir():
        named = f" (the config's `experiment` is {experiment!r})" if experiment else ""
        raise ArtifactError(f"{results} is not a folder: pass results/<experiment> of a run{named}")
    return results


def rerun_hint(path: Path, kind: str, delete: bool = True) -> str:
    """How to make ``path`` again: delete it (``delete``: it is there but bad) and rerun the
    rule that makes a ``kind`` artifact."""
    rule = KINDS.get(kind, kind)
    if rule is None:
        rule = ANALYSIS_RULES.get(path.stem, path.stem)
    group = ""
    # a transferred ticket's round: results/<exp>/transfer/<name>/seed<k>/iter<t>/trained.h5
    # (by its place: an experiment or a folder above results/ may be named "transfer" too)
    if rule == "train" and is_transfer_round(path):
        rule = "transfer"
        group = " or, under resources.group_chains, its group rule `transfer_seeds`"
    elif rule == "train":  # with resources.group_chains a group rule trains the round
        group = " or, under resources.group_chains, its group rule (e.g. `train_seeds`)"
    return (
        f"{f'delete {path} and ' if delete else ''}rerun its rule `{rule}`{group} (snakemake "
        f"recreates it: `snakemake --cores 1 {path}`, with your --configfile and profile)"
    )


#: The packages whose versions every artifact records beside its own (their numerics).
VERSIONED_PACKAGES = ("jax", "evosax")
#: The software versions every artifact records, attribute names: summary.nc counts its
#: rounds by each (``collect``).
VERSION_ATTRS = ("evotickets_version", *(f"{pkg}_version" for pkg in VERSIONED_PACKAGES))


@functools.cache
def _versions() -> MappingProxyType[str, str]:
    """The jax and evosax versions every artifact records. Read once per process: each
    ``importlib.metadata`` lookup parses the installed packages' metadata (about 13 ms),
    and a group job reads and writes a hundred artifacts."""
    import importlib.metadata as md

    out = {}
    for pkg in VERSIONED_PACKAGES:
        try:
            out[f"{pkg}_version"] = md.version(pkg)
        except md.PackageNotFoundError:  # pragma: no cover
            out[f"{pkg}_version"] = "absent"
    return MappingProxyType(out)


def ensure_writable(path: str | os.PathLike) -> Path:
    """Create ``path``'s folder and prove that a file can be written there, or raise an
    :class:`ArtifactError` that names the folder and the fix. A real write, not ``os.access``:
    root passes every permission check, yet a read-only mount or a path under a regular file
    still fails."""
    path = Path(path)
    if path.is_dir():
        raise ArtifactError(
            f"cannot write {path}: it is a directory. Fix: name a file (e.g. {path / path.name})"
        )
    # named as every temporary file here (one per writer, swept if a kill leaves it behind)
    probe = temp_path(path)
    try:
        make_dirs(path.parent)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ArtifactError(
            f"cannot write {path}: its results directory {path.parent} is not writable "
            f"({err.strerror or err}). Fix: make {path.parent} a writable directory (check "
            "permissions, free space, that no parent is a regular file), or run the workflow "
            "from a writable working directory (`snakemake --directory DIR`)"
        ) from err
    return path


#: The attrs that say which chain, round or analysis an artifact is (:func:`check_output`).
IDENTITY_ATTRS = ("task", "strategy", "method", "round", "seed", "analysis")
#: A transferred ticket's round is named by its transfer, seed and round: its folder does
#: not name the target, which a changed transfer entry may change under the same name.
TRANSFER_IDENTITY_ATTRS = ("transfer_name", "round", "seed")


def identity_of(attrs: dict[str, Any], seed: int) -> dict[str, Any]:
    """Which chain, round or analysis (or transfer round) an artifact of ``attrs`` and
    ``seed`` is: the attrs :func:`check_output` compares with a file it would replace."""
    keys = TRANSFER_IDENTITY_ATTRS if "transfer_name" in attrs else IDENTITY_ATTRS
    return {k: attrs[k] for k in keys if k in attrs} | {"seed": int(seed)}


#: The names of files that no writer of the kinds below makes, whatever its --out: an
#: existing file of such a name (a config, a document, data, an artifact) is not replaced
#: by a table, a summary or a figure; a damaged artifact of a writer's own name is, by its
#: rerun (:func:`_refuse_overwriting`).
OTHER_FILES = (".yaml", ".yml", ".json", ".toml", ".py", ".md", ".html", ".log", ".csv")
#: A figure's names (and so no table's or log's).
IMAGE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".eps")
#: Names of files that are no log (a log is any other file, /dev/null too): an artifact or
#: summary, a config or report, a figure (``commands.group.open_log``).
NOT_LOGS = (".h5", ".hdf5", ".nc", *(s for s in OTHER_FILES if s != ".log"), *IMAGE_SUFFIXES)
#: How a figure's file begins, in each format matplotlib writes that has a signature (PNG,
#: PDF, SVG, JPEG, EPS/PS, TIFF, WebP, GIF, gzip for SVGZ, PGF's first comment, ISO-BMFF
#: for AVIF at byte 4; a test saves one of each): a
#: figure replaces an existing file only if it is one, or empty, or of a format without a
#: signature (:data:`HEADERLESS_IMAGES`): a Snakefile or a Makefile has no suffix to tell
#: it by.
IMAGE_MAGIC = (b"\x89PNG", b"%PDF", b"<?xml", b"<svg", b"\xff\xd8\xff", b"%!PS", b"II*\x00",
               b"MM\x00*", b"RIFF", b"GIF8", b"\x1f\x8b", b"%% Creator: Matplotlib")  # fmt: skip
HEADERLESS_IMAGES = (".raw", ".rgba")
#: The accuracy table's column header (``report._rounds_table``; a test holds them equal):
#: a table replaces an existing file only if it holds one, or is empty.
TABLE_HEADER = re.compile(rb"^ *round +remaining", re.MULTILINE)
#: The suffixes an existing non-artifact file must have for a writer of ``kind`` to replace
#: it (a damaged artifact). A kind not listed here (the table, a figure) replaces any file
#: but one named in :data:`OTHER_FILES` or made by another writer (:func:`_other_writer`),
#: or whose content is no earlier output of it (:func:`_holds_other_content`).
REPLACEABLE_SUFFIXES = {
    "summary": (".nc", ".h5"),
    **{kind: (".h5", ".hdf5") for kind in ("init", "mask", "trained", "analysis")},
}


def check_output(
    path: str | os.PathLike,
    kind: str,
    inputs: Iterable[str | os.PathLike | None],
    identity: dict[str, Any] | None = None,
) -> Path:
    """``path`` as a Path, if a ``kind`` artifact made from ``inputs`` may be written there:
    every input is there (each one's write time is recorded in the artifact), the output is
    none of them, holds no finished artifact of another kind (a mask verb's --out naming a
    trained.h5 would replace it) nor one of its kind that ``identity`` (its
    :data:`IDENTITY_ATTRS`) says is another chain's, round's or analysis's (a rerun after a
    settings change replaces its own), nor a file of another kind's name
    (:data:`REPLACEABLE_SUFFIXES`), and its folder is writable (:func:`ensure_writable`).
    :func:`write_artifact` checks this; a verb that trains first calls it before training,
    so that a bad path fails in a second, not after the round."""
    inputs = [p for p in inputs if p]
    missing = [str(p) for p in inputs if not Path(p).is_file()]
    if missing:
        raise ArtifactError(
            f"missing input {missing[0]} of {path}: pass an existing file, or leave out an "
            "option this chain does not use (nothing was written)"
        )
    _refuse_overwriting(Path(path), kind, inputs, identity or {})
    return ensure_writable(path)


def _other_writer(kind: str, path: Path, hdf5: bool) -> bool:
    """Whether an existing ``path`` is what another of these writers makes: HDF5 (``hdf5``:
    an artifact, a summary), for the table a figure's name, for a figure the table's."""
    names = {"table": IMAGE_SUFFIXES, "figure": (".txt",)}.get(kind, ())
    return hdf5 or path.suffix.lower() in names


def _holds_other_content(kind: str, path: Path) -> bool:
    """Whether an existing non-artifact ``path`` is, by its content, no earlier output of a
    ``kind`` writer that has no suffix of its own (a table, a figure): empty files and
    earlier outputs may be replaced, anything else is someone's file."""
    if kind not in ("table", "figure"):
        return False
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if not head:
        return False
    if kind == "figure":
        image = head.startswith(IMAGE_MAGIC) or head[4:8] == b"ftyp"  # AVIF
        return not image and path.suffix.lower() not in HEADERLESS_IMAGES
    return TABLE_HEADER.search(head) is None


def _refuse_overwriting(path: Path, kind: str, inputs, identity: dict[str, Any]) -> None:
    """An output that is one of its own inputs, a finished artifact of another kind or of
    another chain, round or analysis, or a file of another kind's name would be lost when
    written: refused first."""
    if any(path.resolve() == Path(p).resolve() for p in inputs):
        raise ArtifactError(
            f"cannot write {path}: it is an input of this verb as well, and writing would "
            "replace it; name another output (--out)"
        )
    if not path.is_file():
        return
    try:
        with h5py.File(path, "r") as f:
            schema = str(f.attrs.get("schema", ""))
            keys = {*IDENTITY_ATTRS, *TRANSFER_IDENTITY_ATTRS}
            held = {k: str(f.attrs[k]) for k in keys if k in f.attrs}
        hdf5 = True
    except H5_READ_ERRORS as err:
        raise_if_unavailable(path, err)  # never replace a finished artifact it cannot read now
        schema, held, hdf5 = "", {}, False
    if not schema.startswith("evotickets."):
        # no artifact (or a damaged one): replaced if it has a name this writer gives
        suffix = path.suffix.lower()
        own = REPLACEABLE_SUFFIXES.get(kind)
        other = (
            suffix in OTHER_FILES
            or _other_writer(kind, path, hdf5)
            or _holds_other_content(kind, path)
        )
        if (suffix not in own) if own else other:
            raise ArtifactError(
                f"cannot write the {kind} to {path}: it is an existing file that is not one "
                f"(another kind of file by its name, or a file this verb never writes), which "
                "writing would replace; name the output this verb makes (--out), or move that "
                "file away first"
            )
        return
    other = schema.split("/")[0].removeprefix("evotickets.")
    if other != kind:
        raise ArtifactError(
            f"cannot write a {kind} artifact to {path}: it holds a {other} artifact, which "
            "writing would replace; name the output this verb makes (--out)"
        )
    differ = {k: (held[k], str(v)) for k, v in identity.items() if k in held and held[k] != str(v)}
    if differ:
        what = ", ".join(f"{k} {old} (this one: {new})" for k, (old, new) in differ.items())
        raise ArtifactError(
            f"cannot write this {kind} artifact to {path}: it holds the one of {what}, which "
            "writing would replace; name this chain's own output (--out; the workflow gives "
            "each chain, round and analysis a file of its own)"
        )


def write_artifact(
    path: str | os.PathLike,
    kind: str,
    arrays: dict[str, np.ndarray],
    attrs: dict[str, Any],
    *,
    config_digest: str,
    seed: int,
    inputs: Iterable[str | os.PathLike | None] = (),
    inputs_read: dict[str, str] | None = None,
) -> Path:
    """Write ``arrays`` (slash-separated names) and ``attrs`` atomically. ``inputs``: the
    artifacts it was made from, whose write times it records (:func:`stale_inputs`), as
    they are now, or as ``inputs_read`` (:func:`input_record` of the same inputs and output,
    taken when they were read) gives them."""
    if kind not in KINDS:
        raise ValueError(f"unknown artifact kind {kind!r}")
    inputs = [p for p in inputs if p]
    path = check_output(path, kind, inputs, identity_of(attrs, seed))
    made_from = input_record(inputs, path) if inputs_read is None else inputs_read
    with atomic_path(path) as tmp, h5py.File(tmp, "w", libver=FILE_FORMAT) as f:
        f.attrs["schema"] = f"evotickets.{kind}/{SCHEMA_VERSION}"
        f.attrs["evotickets_version"] = __version__
        f.attrs["config_digest"] = config_digest
        f.attrs["seed"] = int(seed)
        f.attrs["created"] = _dt.datetime.now(_dt.UTC).isoformat()
        for k, v in _versions().items():
            f.attrs[k] = v
        if made_from:
            f.attrs[INPUTS_ATTR] = json.dumps(made_from, sort_keys=True)
            f.attrs[INPUTS_BASE_ATTR] = INPUTS_BASE
        for k, v in attrs.items():
            f.attrs[k] = v
        for name, value in arrays.items():
            create_checked_dataset(f, name, value)
    return path


#: HDF5's 1.10 file format (readable by HDF5 1.10 from 2017 on, and every h5py since 2.8):
#: it stores a one-chunk dataset without a chunk index, so the checksummed datasets of
#: :func:`create_checked_dataset` cost no space (a digits trained.h5: 35 kB, against 47 kB
#: unchecked and 106 kB checked in the default, oldest format).
FILE_FORMAT = ("v110", "v110")


def create_checked_dataset(f: h5py.File | h5py.Group, name: str, value: Any) -> None:
    """``f.create_dataset(name, data=value)`` with HDF5's Fletcher-32 checksum on every
    non-empty array, so that damage inside a file (a flipped or zeroed block the file
    system did not report) fails the read instead of passing as other numbers. Scalars and
    empty arrays cannot be chunked, which the checksum needs; they are stored as before.
    Files written without it read as before."""
    value = np.asarray(value)
    checked = value.ndim > 0 and value.size > 0
    f.create_dataset(name, data=value, **({"fletcher32": True} if checked else {}))


def check_filed(path: str | os.PathLike, attrs: dict[str, Any], filed: dict[str, Any]) -> None:
    """A report files an artifact by its folder and reads what it records: the two must
    agree (``filed``: the chain and round its folder is), or a round copied, moved or
    edited by hand would be counted as another chain's, silently."""
    for key, value in filed.items():
        if key in attrs and str(attrs[key]) != str(value):
            raise ArtifactError(
                f"{path} sits in the folder of {key} {value} but records "
                f"{attrs[key]}: it was copied, moved or edited by hand; delete it and rerun "
                "the workflow, which writes each round in its own folder"
            )


#: The digest a read expects: one, or the digests its settings accept, the one written now
#: first (``settings._Json.accepted_digests``).
Digests = str | tuple[str, ...]


def digest_accepted(stored: Any, expected: Digests) -> bool:
    """Whether an artifact's ``config_digest`` is one its settings accept."""
    return stored in ((expected,) if isinstance(expected, str) else expected)


def _shown(expected: Digests) -> str:
    """The expected digest a message names: the one written now."""
    return expected if isinstance(expected, str) else expected[0]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


def read_artifact(
    path: str | os.PathLike,
    kind: str,
    expected_digest: Digests | None = None,
    *,
    with_arrays: bool = True,
    only: str | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read and validate an artifact; every failure names the file and the rule to rerun.
    ``with_arrays=False`` reads and checks its attributes only (arrays: {}), what a report
    of finished rounds needs, at a tenth of the cost; ``only="mask"`` reads the arrays of
    that group only (a report that needs a round's mask, not its weights and curves)."""
    path = Path(path)
    if not path.exists():
        raise ArtifactError(
            f"missing artifact {path}: pass the path of an existing {kind} artifact, or "
            f"{rerun_hint(path, kind, delete=False)}"
        )
    try:
        with h5py.File(path, "r") as f:
            attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}
            curve = f.get(FINAL_METRIC_CURVE) if kind == "trained" else None
            last_eval = float(curve[-1]) if isinstance(curve, h5py.Dataset) and curve.size else None
            arrays: dict[str, np.ndarray] = {}
            if with_arrays:
                prefix = "" if only is None else only.rstrip("/") + "/"
                f.visititems(
                    lambda name, obj: (
                        arrays.__setitem__(name, obj[()])
                        if isinstance(obj, h5py.Dataset) and name.startswith(prefix)
                        else None
                    )
                )
    except H5_READ_ERRORS as err:
        raise unreadable(path, kind, err) from err
    if last_eval is not None and "final_metric" in attrs:
        try:
            # NaN where both say NaN: a finished round whose episode blew up records its
            # non-finite evaluation in both, and is read (listed as such), not refused
            same = np.array_equal(float(attrs["final_metric"]), last_eval, equal_nan=True)
        except (TypeError, ValueError):
            same = True  # not a number: the numeric check below names it
        if not same:
            raise ArtifactError(
                f"artifact {path} records final_metric {attrs['final_metric']}, but its "
                f"{FINAL_METRIC_CURVE} ends at {last_eval} (every trainer records the last "
                "evaluation as the final metric, and the curve has a checksum): the attribute "
                f"was edited or damaged; {rerun_hint(path, kind)}"
            )
    want = f"evotickets.{kind}/{SCHEMA_VERSION}"
    other = {f"evotickets.{k}/{SCHEMA_VERSION}": k for k in KINDS}.get(str(attrs.get("schema")))
    if other and other != kind:  # a good artifact of another kind, passed for this one
        raise ArtifactError(
            f"artifact {path} is a {other} artifact (schema {attrs.get('schema')!r}), not a "
            f"{kind} one: it may be a good file, keep it; pass the {kind} artifact this "
            "option asks for"
        )
    if attrs.get("schema") != want:
        raise ArtifactError(
            f"artifact {path} has schema {attrs.get('schema')!r}, expected {want!r}: "
            f"{rerun_hint(path, kind)}"
        )
    missing = [a for a in REQUIRED_ATTRS.get(kind, ()) if a not in attrs]
    if missing:  # written by other code, or edited: a verb would fail on a bare KeyError
        raise ArtifactError(
            f"artifact {path} has no attribute {missing[0]!r}, which every {kind} artifact "
            f"records: {rerun_hint(path, kind)}"
        )
    for a in REQUIRED_ATTRS.get(kind, ()):
        if a in NUMERIC_ATTRS and not _is_number(attrs[a]):
            raise ArtifactError(
                f"artifact {path}'s attribute {a!r} is {attrs[a]!r}, not a number: it was "
                f"edited or damaged; {rerun_hint(path, kind)}"
            )
    if with_arrays and only is not None and not arrays:  # collect's masks: "of different
        raise ArtifactError(  # networks: [] and [...]" before, naming no file
            f"artifact {path} has no {only} arrays, which every {kind} artifact holds: "
            f"{rerun_hint(path, kind)}"
        )
    if "config_digest" not in attrs:  # write_artifact records it: damaged, not another's
        raise ArtifactError(
            f"artifact {path} has no attribute 'config_digest', which every artifact "
            f"records: {rerun_hint(path, kind)}"
        )
    if expected_digest is not None and not digest_accepted(
        attrs.get("config_digest"), expected_digest
    ):
        raise ArtifactError(
            f"artifact {path} was made from other settings (config_digest "
            f"{attrs.get('config_digest')} ≠ {_shown(expected_digest)}): if it is another "
            "chain's or seed's file, pass this chain's instead (it may be a good file: keep "
            f"it); if it is this chain's, {rerun_hint(path, kind)}"
        )
    return arrays, attrs


def check_analysis(
    path: str | os.PathLike, arrays: dict[str, Any], attrs: dict[str, Any], analysis: str
) -> None:
    """Refuse an analysis artifact that is not an ``analysis`` one, or lacks what it holds
    (:data:`ANALYSIS_CONTENTS`), naming the file and the rule that makes it again."""
    path = Path(path)
    found = attrs.get("analysis")
    if found != analysis:
        raise ArtifactError(
            f"artifact {path} holds the {found!r} analysis, not {analysis!r}: it was copied or "
            f"renamed; {rerun_hint(path, 'analysis')}"
        )
    need_arrays, need_attrs = ANALYSIS_CONTENTS[analysis]
    missing = [a for a in need_arrays if a not in arrays] + [
        f"attribute {a}" for a in need_attrs if a not in attrs
    ]
    if missing:
        raise ArtifactError(
            f"artifact {path} has no {missing[0]}, which every {analysis} analysis holds: it "
            f"was edited or damaged; {rerun_hint(path, 'analysis')}"
        )


def written_at(path: str | os.PathLike) -> _dt.datetime | None:
    """When :func:`write_artifact` wrote ``path`` (its ``created`` attribute, UTC), or None for
    a file without one. Unlike the file's mtime it travels with the content: a copy of an old
    artifact (Snakemake restores an update() output's backup by copying it after a failed job)
    keeps its old time."""
    kind = ARTIFACT_KINDS_BY_NAME.get(Path(path).name, "analysis")
    try:
        with h5py.File(path, "r") as f:
            text = f.attrs.get("created")
        return created_time({"created": text})
    except H5_READ_ERRORS as err:  # ValueError too: a damaged `created`, not a time
        raise unreadable(path, kind, err) from err


def created_time(attrs: dict[str, Any]) -> _dt.datetime | None:
    """An artifact's ``created`` attribute as a datetime (UTC), or None where it has none."""
    text = attrs.get("created")
    if text is None:
        return None
    return _dt.datetime.fromisoformat(text.decode() if isinstance(text, bytes) else str(text))


#: The attr in which an artifact records the write times of the artifacts it was made from.
INPUTS_ATTR = "inputs_written"
#: The attr that says what the recorded inputs' paths are relative to, and its one value:
#: the artifact's own folder, so that the record reads the same from any working directory
#: and in a copy of the whole results folder. Artifacts without it (before 2026-12-06)
#: recorded the paths as the job was given them, relative to the workflow's directory.
INPUTS_BASE_ATTR = "inputs_relative_to"
INPUTS_BASE = "artifact folder"
#: The kind of artifact a file name holds (every other artifact is an analysis).
ARTIFACT_KINDS_BY_NAME = {"init.h5": "init", "mask.h5": "mask", "trained.h5": "trained"}


def input_record(
    inputs: Iterable[str | os.PathLike | None], artifact: str | os.PathLike
) -> dict[str, str]:
    """{path relative to ``artifact``'s folder: when it was written} of each given input
    artifact (files without a recorded time are left out). Taken when the inputs are read
    (:func:`write_artifact`'s ``inputs_read``) where the artifact is written long after: an
    input written again meanwhile would otherwise be recorded with its new time, and the
    artifact made from its old content would never read as stale."""
    base = os.path.abspath(Path(artifact).parent)
    record = {}
    for p in inputs:
        if p and (when := written_at(p)) is not None:
            record[os.path.relpath(os.path.abspath(p), base)] = when.isoformat()
    return record


def recorded_inputs(artifact: str | os.PathLike, attrs: dict[str, Any]) -> dict[str, str]:
    """{input path as this process reaches it: when it was written} that ``artifact``
    (its ``attrs``) records: relative to the artifact's folder where it says so
    (``INPUTS_BASE_ATTR``), else (older artifacts) as recorded, relative to the working
    directory of the job that wrote it."""
    try:
        record = dict(json.loads(str(attrs.get(INPUTS_ATTR, "{}"))))
    except (ValueError, TypeError) as err:
        kind = ARTIFACT_KINDS_BY_NAME.get(Path(artifact).name, "analysis")
        raise ArtifactError(
            f"artifact {artifact} has a damaged {INPUTS_ATTR} record ({err}): "
            f"{rerun_hint(Path(artifact), kind)}"
        ) from err
    if str(attrs.get(INPUTS_BASE_ATTR, "")) != INPUTS_BASE:
        return record
    base = Path(artifact).parent
    return {os.path.normpath(base / p): when for p, when in record.items()}


def stale_inputs(
    artifact: str | os.PathLike,
    attrs: dict[str, Any],
    written: Callable[[str], _dt.datetime | None] | None = None,
) -> list[str]:
    """The inputs the artifact at ``artifact`` records in its ``attrs``
    (:func:`recorded_inputs`) that are still there but were written again since it was
    made: it is then a stale result, e.g. an output Snakemake put back from its backup after
    a failed job (it copies an update() output's earlier version back and records the job as
    finished, so the next run plans nothing). An input no longer there, or an artifact
    without the record (older versions), cannot be checked: []. ``written`` reads an
    input's write time (default :func:`written_at`; a caller checking several artifacts of
    the same inputs passes a cached one).

    A round-0 copy (:data:`ROUND0_FROM_ATTR`) reads nothing of its donor but its numbers: a
    donor written again with the same numbers (trained again, or copied again from another
    chain's round 0 after the config's methods changed) leaves it current."""
    written = written or written_at
    copy = ROUND0_FROM_ATTR in attrs
    stale = []
    for path, when in recorded_inputs(artifact, attrs).items():
        if Path(path).exists():
            now = written(path)
            if now is not None and now != _dt.datetime.fromisoformat(when):
                if copy and same_round0_numbers(artifact, path):
                    continue
                stale.append(path)
    return stale


#: The attr that makes a trained.h5 a copy of another chain's round 0, naming it
#: (:func:`evotickets.rounds.adopt_round0`), and the donor's digest beside it.
ROUND0_FROM_ATTR = "round0_from"
ROUND0_FROM_DIGEST_ATTR = "round0_from_digest"
#: A trained round's machine (``evotickets.host.trained_on``): reports count rounds by it.
TRAINED_ON_ATTR = "trained_on"
#: A vmapped group's program and width, which a chain's last bits may depend on on a GPU.
GROUP_PROGRAM_ATTR, GROUP_WIDTH_ATTR = "group_program", "group_width"
#: A gradient-descent round's time per epoch (its trainer's attr).
SECONDS_PER_EPOCH_ATTR = "seconds_per_epoch"
#: Round 0 holds the same numbers for every method of one (task, strategy, seed): what two
#: such rounds may record apart is the method, a copy's provenance, and how and where it was
#: trained (the machine, the time, the group program and its width).
ROUND0_OWN_ATTRS = frozenset(
    {
        "method",
        ROUND0_FROM_ATTR,
        ROUND0_FROM_DIGEST_ATTR,
        TRAINED_ON_ATTR,
        "seconds",
        SECONDS_PER_EPOCH_ATTR,
        GROUP_PROGRAM_ATTR,
        GROUP_WIDTH_ATTR,
    }
)


def same_round0_numbers(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two trained.h5 files are round 0 with the same numbers
    (:func:`round0_numbers_equal`); False where either is unreadable."""
    try:
        return round0_numbers_equal(read_artifact(a, "trained"), read_artifact(b, "trained"))
    except (ArtifactError, KeyError, ValueError):
        return False


def round0_numbers_equal(a: tuple[dict, dict], b: tuple[dict, dict]) -> bool:
    """Whether two read trained artifacts, ``(arrays, attrs)``, are round 0 with the same
    numbers: every array bitwise (NaN included), and every attr but
    :data:`ROUND0_OWN_ATTRS` and the writer's own (the digests differ by the method; the
    caller checks what it needs of them)."""
    (a_arrays, a_attrs), (b_arrays, b_attrs) = a, b
    if int(a_attrs["round"]) != 0 or int(b_attrs["round"]) != 0:
        return False
    if a_arrays.keys() != b_arrays.keys():
        return False
    for name, x in a_arrays.items():
        y = b_arrays[name]
        if (x.dtype, x.shape) != (y.dtype, y.shape) or x.tobytes() != y.tobytes():
            return False

    def numbers(attrs: dict) -> dict[str, str]:
        # a gradient-descent round of before recorded the ES fitness's n_repeats, which its
        # numbers do not depend on (names.ES_FITNESS_TASK_KEYS); those of now do not
        kept = {k: str(v) for k, v in content_attrs(attrs).items() if k not in ROUND0_OWN_ATTRS}
        return without_es_fitness_keys(kept) if is_gd(str(attrs.get("strategy"))) else kept

    return numbers(a_attrs) == numbers(b_attrs)


def read_config_chain(
    path: str | os.PathLike, kind: str, digest: Digests, *, with_arrays: bool = True
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """A chain's artifact read to report a config's results (``collect``, ``table``): it
    must come from the settings the config gives that chain (``digest``), otherwise the
    report would label another run's numbers with this config."""
    arrays, attrs = read_artifact(path, kind, with_arrays=with_arrays)
    if not digest_accepted(attrs.get("config_digest"), digest):
        raise ArtifactError(
            f"{path} was made from other settings than this config gives its chain "
            f"(config_digest {attrs.get('config_digest')} ≠ {_shown(digest)}): report with the "
            "config the run used (--configfile), or retrain it with this one (delete it and rerun "
            "its rule)"
        )
    return arrays, attrs


#: The attrs :func:`write_artifact` sets itself on every artifact (beside the library
#: versions of :func:`_versions`): a copy's must not carry its source's.
WRITER_ATTRS = (
    "schema",
    "evotickets_version",
    "config_digest",
    "seed",
    "created",
    INPUTS_ATTR,
    INPUTS_BASE_ATTR,
)


def content_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """``attrs`` without what :func:`write_artifact` records itself (schema, digest, seed,
    time, versions): what a copy of an artifact passes on to the new one."""
    own = {*WRITER_ATTRS, *_versions()}
    return {k: v for k, v in attrs.items() if k not in own}


def artifact_vector(
    arrays: dict[str, np.ndarray],
    prefix: str,
    table,
    path: str | os.PathLike,
    kind: str,
    *,
    optional: bool = False,
) -> np.ndarray | None:
    """The ``prefix/`` tensors of the ``kind`` artifact read from ``path`` as one flat
    vector in the network's layout (``table``, :func:`evotickets.networks.layer_table`), or
    an :class:`ArtifactError` naming the file, the tensor that is missing or of another
    shape, and the rule that remakes it (a bare KeyError or a numpy broadcast error
    before). ``optional``: None where the artifact has no such group."""
    from .networks import to_vector

    tree = group(arrays, prefix)
    if optional and not tree:
        return None
    for e in table:
        got = tuple(tree[e.name].shape) if e.name in tree else None
        if got != tuple(e.shape):
            what = "is missing" if got is None else f"has shape {got}"
            raise ArtifactError(
                f"{prefix} of {path} does not fit the network: tensor {e.name} {what}, the "
                f"network needs {e.shape}; delete it and rerun rule `{KINDS.get(kind) or kind}`"
            )
    return to_vector(tree, table)


def group(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The tensors under ``prefix/`` with the prefix stripped, in stored order."""
    p = prefix.rstrip("/") + "/"
    return {k[len(p) :]: v for k, v in arrays.items() if k.startswith(p)}
