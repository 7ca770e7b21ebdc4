"""Mid-round checkpoints of a round: save the trainer's full state, resume bitwise identically.

The ES loop saves its strategy state; masked Adam its (θ, Adam state) after whole epochs; PPO
its whole carry (actor, critic, optimiser, environment states, observation statistics) after
whole chunks of updates. Each names its own curves.

A paper-scale round runs thousands of generations; a preempted or timed-out job must not start
over. Every so often (``every_generations``, or else about every ``every_seconds`` of work) the
round writes, atomically, beside its output (``iterTT/trained.ckpt.h5``):

- every leaf of the strategy state (a flax struct pytree, optax states included), stored by its
  tree path (``state/mean``, ``state/opt_state/0/mu``) as a plain HDF5 dataset: readable with
  h5py, never pickled;
- the generation counter and the curves so far.

Because generation g's key is ``fold_in(round_key, g)`` and chunk boundaries do not move, the
resumed round runs exactly the computations the uninterrupted one would, so θ_G, σ_G and the
curves are bitwise equal. The checkpoint carries a digest of everything that defines the round
(chain settings digest, round, active indices, the rewound start point, the number of
generations and the chunk length). A checkpoint that does not match, or is unreadable in any way,
is ignored with a log line and overwritten later, never trusted and never fatal.

Bitwise on one machine: a round resumed on other hardware (a requeued SLURM job landing on
another node type) continues from the same state, but its later generations may differ in
the last bits from what the first machine would have computed (:mod:`evotickets.host`). So
the checkpoint records the machines that trained the round so far, a resume on another
machine says so in the log, and the round's ``trained_on`` names them all
(:meth:`Checkpointer.trained_on`).

The file is deliberately *not* a declared Snakemake output: Snakemake deletes the declared
outputs of a failed or killed job, and the checkpoint must survive exactly that.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .artifacts import (
    FILE_FORMAT,
    GROUP_PROGRAM_ATTR,
    GROUP_WIDTH_ATTR,
    create_checked_dataset,
    unavailable,
)
from .durable import atomic_path, make_dirs, remove_stale_temps
from .host import trained_on

SCHEMA = "evotickets.checkpoint/1"
CURVES = ("best_fitness", "mean_fitness", "nonfinite_count", "eval_generation", "eval_metric")
DEFAULT_EVERY_SECONDS = 120.0

#: Environment variables that set the cadence for `evotickets train` (see README).
EVERY_GENERATIONS_ENV = "EVOTICKETS_CHECKPOINT_EVERY"
EVERY_SECONDS_ENV = "EVOTICKETS_CHECKPOINT_SECONDS"


#: The checkpoint's record of the round's settings digest before the program entered it
#: (:meth:`Checkpointer.for_program`): a refusal can then tell a change of program alone.
SETTINGS_DIGEST_ATTR = "settings_digest"


def _program_words(program: str | None, width: int) -> str:
    """A training program in words, for a refusal: the one-chain program, or a vmapped
    group's with its width."""
    if program is None:
        return "the one-chain program"
    return f"the {program} program of {int(width)} chains"


def checkpoint_path(out: str | os.PathLike) -> Path:
    """``.../iterTT/trained.h5`` → ``.../iterTT/trained.ckpt.h5``."""
    out = Path(out)
    return out.with_name(out.stem + ".ckpt.h5")


def remove_checkpoint(path: str | os.PathLike) -> None:
    """Delete the checkpoint at ``path`` once its round is finished, and the temporary files
    killed writers left in its folder: the checkpoint's, the artifact's, the mask's
    (:func:`evotickets.durable.remove_stale_temps`: not a write in progress, since another
    instance of the job may still be saving)."""
    path = Path(path)
    if not path.is_dir():  # a folder of that name is no checkpoint of ours: left as it is
        path.unlink(missing_ok=True)
    remove_stale_temps(path.parent)


#: The libraries whose versions can change a round's numbers (the compiler, the strategies,
#: the optimisers, the networks and environments; on a GPU the CUDA libraries that choose
#: and compile its kernels, which pip upgrades apart from jax); one not installed reads
#: "absent".
NUMERIC_PACKAGES = (
    "jax",
    "jaxlib",
    "jax-cuda12-plugin",
    "jax-cuda12-pjrt",
    "nvidia-cublas-cu12",
    "nvidia-cudnn-cu12",
    "nvidia-cuda-nvcc-cu12",
    "nvidia-cuda-runtime-cu12",
    "nvidia-cufft-cu12",
    "nvidia-cusolver-cu12",
    "nvidia-cusparse-cu12",
    "nvidia-nvjitlink-cu12",
    "evosax",
    "optax",
    "flax",
    "brax",
    "gymnax",
)

#: The settings outside the packages that change a round's numbers: XLA's flags (such as
#: the vector width or the deterministic-ops flag) and JAX's default matmul precision.
NUMERIC_SETTINGS_ENV = ("XLA_FLAGS",)


@functools.cache
def software_fingerprint() -> tuple[str, ...]:
    """What the software of a resumed checkpoint must equal: the versions of
    :data:`NUMERIC_PACKAGES` and a hash of evotickets' own source files (its version string
    is fixed, and a change of its code, such as another key derivation or a batch-invariant
    sum, changes a round's numbers: a round resumed across it would be half of each). Read
    once per process (about 15 ms)."""
    import importlib.metadata as md

    versions = []
    for pkg in NUMERIC_PACKAGES:
        try:
            versions.append(f"{pkg}={md.version(pkg)}")
        except md.PackageNotFoundError:
            versions.append(f"{pkg}=absent")
    import jax

    from .platform import CPU_DEVICES_ENV, cpu_devices, skip_spmd_cleanup

    # XLA_FLAGS as the code leaves them: a split over host devices adds a pass that a
    # one-device program never runs, so the split itself is named instead (a brax round is
    # not bitwise across it; bench/README.md, "Host devices"), not a "software" change
    settings = [
        f"{name}={skip_spmd_cleanup(os.environ.get(name, ''))}"
        if name == "XLA_FLAGS"
        else f"{name}={os.environ.get(name, '')}"
        for name in NUMERIC_SETTINGS_ENV
    ]
    settings.append(f"{CPU_DEVICES_ENV}={cpu_devices()}")
    settings.append(f"jax_default_matmul_precision={jax.config.jax_default_matmul_precision}")
    source = Path(__file__).resolve().parent
    code = hashlib.sha256()
    for path in sorted(source.rglob("*.py")):
        code.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes())
    return (*versions, *settings, f"evotickets-source={code.hexdigest()[:16]}")


def software_changes(stored: Any, current: tuple[str, ...]) -> list[str]:
    """What differs between a checkpoint's ``software`` attribute (the JSON list of a
    :func:`software_fingerprint`) and ``current``, as ``name: old → new``; [] where either
    is missing or the attribute is not such a list (the checkpoint is then refused as
    another round, as before the attribute)."""
    try:
        items = json.loads(stored) if stored is not None else []
        old = dict(item.split("=", 1) for item in items)
    except (TypeError, ValueError, AttributeError):
        return []
    if not old or not current:
        return []
    new = dict(item.split("=", 1) for item in current)
    return [
        f"{name}: {old.get(name, 'absent')} → {new.get(name, 'absent')}"
        for name in sorted(old.keys() | new.keys())
        if old.get(name) != new.get(name)
    ]


def round_digest(**parts: Any) -> str:
    """A hash of everything that determines a round's numbers (arrays by their bytes)."""
    h = hashlib.sha256()
    for name in sorted(parts):
        value = parts[name]
        h.update(name.encode() + b"=")
        if isinstance(value, np.ndarray):
            arr = np.ascontiguousarray(value)
            h.update(f"{arr.dtype.str}{arr.shape}".encode())
            h.update(arr.tobytes())
        else:
            h.update(repr(value).encode())
        h.update(b";")
    return h.hexdigest()[:32]


def _entry_name(entry: Any) -> str:
    for attr in ("name", "key", "idx"):
        if hasattr(entry, attr):
            return str(getattr(entry, attr))
    raise TypeError(f"unsupported pytree path entry {entry!r}")


def leaf_names(tree: Any) -> list[str]:
    """HDF5 dataset names of a pytree's leaves, by tree path: ``opt_state/0/mu``."""
    import jax

    paths = [p for p, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]
    names = ["/".join(_entry_name(e) for e in p) or "_root" for p in paths]
    if len(set(names)) != len(names):  # pragma: no cover - a tree with clashing names
        raise ValueError(f"pytree leaf paths are not unique as names: {names}")
    return names


def _is_key(x: Any) -> bool:
    import jax

    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _to_host(leaf: Any) -> np.ndarray:
    import jax

    return np.asarray(jax.random.key_data(leaf) if _is_key(leaf) else leaf)


@dataclass
class Resumed:
    """What a valid checkpoint restores."""

    state: Any
    generation: int
    curves: dict[str, np.ndarray]
    #: (machine, generation it took over at) of each machine that trained the round so far;
    #: empty for a checkpoint written before they were recorded
    machines: list[tuple[str, int]] = field(default_factory=list)


def check_es_curves(curves: dict[str, np.ndarray], g: int, chunk: int) -> None:
    """The ES loop's curves after ``g`` generations in chunks of ``chunk``: per-generation
    fitness curves of length g, one evaluation per chunk."""
    for name in ("best_fitness", "mean_fitness", "nonfinite_count"):
        if curves[name].shape != (g,):
            raise ValueError(f"curves/{name} has shape {curves[name].shape}, need ({g},)")
    n_eval = g // chunk
    if not np.array_equal(curves["eval_generation"], np.arange(1, n_eval + 1) * chunk):
        raise ValueError("curves/eval_generation does not match the chunking")
    if curves["eval_metric"].shape != (n_eval,):
        raise ValueError("curves/eval_metric has the wrong length")


#: The attr holding :func:`scalars_digest` of the state's scalar leaves: an HDF5 scalar
#: dataset cannot be chunked, so it has no Fletcher-32 checksum (every array has), and a
#: flipped bit of SNES's ``lr_std`` resumed as another round's state, silently.
SCALARS_ATTR = "scalars_sha256"


def scalars_digest(scalars: dict[str, Any]) -> str:
    """SHA-256 over the named scalars' names, dtypes and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(scalars):
        value = np.asarray(scalars[name])
        digest.update(f"{name}\0{value.dtype.str}\0".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


@dataclass
class Checkpointer:
    """Saves and loads one round's checkpoint.

    ``every_generations`` > 0: save at the first chunk end at least that many generations after
    the last save (checkpoints fall on chunk boundaries, i.e. multiples of ``log_every``, so the
    computation is never split differently). ``every_generations`` == 0: never save.
    ``None``: save when ``every_seconds`` of work passed since the last save.
    """

    path: Path
    digest: str
    every_generations: int | None = None
    every_seconds: float = DEFAULT_EVERY_SECONDS
    log: Callable[[str], None] = print
    clock: Callable[[], float] = time.monotonic
    #: :func:`software_fingerprint` where the digest covers it: stored beside the digest so
    #: that a checkpoint of other software is refused with what changed, not as another round
    software: tuple[str, ...] = ()
    _last_gen: int = field(default=0, init=False)
    _last_time: float = field(default=0.0, init=False)
    saves: int = field(default=0, init=False)
    #: (machine, generation it took over at) of the machines before this process, from the
    #: checkpoint this round resumed from; empty for a round trained in one process
    earlier_machines: list[tuple[str, int]] = field(default_factory=list, init=False)
    _resumed_at: int = field(default=0, init=False)
    #: the vmapped group program and its width that train the round (:meth:`for_program`;
    #: None, 1: the one-chain program), stored as trained.h5 records them, beside the
    #: digest that covers them, so that a checkpoint of another program is refused naming it
    group_program: str | None = field(default=None, init=False)
    group_width: int = field(default=1, init=False)
    _settings_digest: str = field(default="", init=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if self.path.is_dir():  # the first save failed on it, mid-round, the round unwritten
            raise ValueError(
                f"the mid-round checkpoint {self.path} is a folder: move it away (the round "
                "saves its checkpoint there), then rerun"
            )
        self._last_time = self.clock()
        self._settings_digest = self.digest

    # --- cadence ---------------------------------------------------------------------------

    def due(self, generation: int, total: int) -> bool:
        """Whether to save after ``generation`` (never after the last one: the artifact
        follows immediately)."""
        if generation >= total or self.every_generations == 0:
            return False
        if self.every_generations is not None:
            return generation - self._last_gen >= self.every_generations
        return self.clock() - self._last_time >= self.every_seconds

    # --- save ------------------------------------------------------------------------------

    def save(self, state: Any, generation: int, curves: dict[str, np.ndarray]) -> None:
        """Write atomically and durably: a temporary file of this writer's own beside the
        checkpoint, then :func:`evotickets.durable.atomic_path` (fsync, ``os.replace``, fsync
        the folder)."""
        import jax

        leaves = jax.tree_util.tree_leaves(state)
        names = leaf_names(state)
        make_dirs(self.path.parent)
        with atomic_path(self.path) as tmp, h5py.File(tmp, "w", libver=FILE_FORMAT) as f:
            f.attrs["schema"] = SCHEMA
            f.attrs["round_digest"] = self.digest
            f.attrs["generation"] = int(generation)
            f.attrs["leaves"] = np.asarray(names, dtype=h5py.string_dtype())
            f.attrs["key_leaves"] = np.asarray(
                [n for n, x in zip(names, leaves, strict=True) if _is_key(x)],
                dtype=h5py.string_dtype(),
            )
            scalars = {}
            for name, leaf in zip(names, leaves, strict=True):
                value = _to_host(leaf)
                create_checked_dataset(f, f"state/{name}", value)
                if np.ndim(value) == 0:
                    scalars[name] = value
            f.attrs[SCALARS_ATTR] = scalars_digest(scalars)
            f.attrs["curves"] = np.asarray(sorted(curves), dtype=h5py.string_dtype())
            f.attrs["machines"] = json.dumps(self._machines())
            f.attrs["software"] = json.dumps(list(self.software))
            f.attrs[SETTINGS_DIGEST_ATTR] = self._settings_digest
            if self.group_program is not None:
                f.attrs[GROUP_PROGRAM_ATTR] = self.group_program
                f.attrs[GROUP_WIDTH_ATTR] = self.group_width
            for name, values in curves.items():
                create_checked_dataset(f, f"curves/{name}", values)
        self._last_gen, self._last_time = generation, self.clock()
        self.saves += 1
        self.log(f"checkpoint {self.path} at generation {generation}")

    def for_program(self, program: str, width: int) -> None:
        """Make this the checkpoint of a round trained in a group program of ``width``
        chains (``round-group --program vmapped``): its digest then differs from the
        one-chain program's and from another width's, whose numbers may differ in the last
        bits (on a GPU), so that a round is never resumed across programs with the mix
        unrecorded."""
        self.digest = round_digest(round_digest=self.digest, program=program, width=int(width))
        self.group_program, self.group_width = program, int(width)

    # --- load ------------------------------------------------------------------------------

    def load(
        self,
        template: Any,
        total: int,
        chunk: int,
        curves: tuple[str, ...] = CURVES,
        check_curves: Callable[[dict[str, np.ndarray], int, int], None] | None = None,
    ) -> Resumed | None:
        """The saved state, if the checkpoint exists and belongs to this round; else ``None``
        (with a log line saying why). Never raises on a bad file; raises
        :class:`~evotickets.artifacts.ArtifactUnavailable` on one it cannot read now, which is
        kept. ``curves`` names the trainer's curves and ``check_curves(curves, generation,
        chunk)`` raises if their shapes do not fit (default: the ES loop's curves and
        :func:`check_es_curves`); a failed check is a bad file like any other."""
        if not self.path.exists():
            return None
        if check_curves is None:
            check_curves = check_es_curves
        try:
            resumed = self._load(template, total, chunk, curves)
            check_curves(resumed.curves, resumed.generation, chunk)
        except Exception as err:  # a bad checkpoint must never stop the round
            if (error := unavailable(self.path, err)) is not None:
                # but one it cannot read now (a lock, EIO, a stale NFS handle) is not bad:
                # starting from scratch would overwrite it at the next save
                self.log(f"cannot read checkpoint {self.path} now: {error}")
                raise error from err
            self.log(f"ignoring checkpoint {self.path}: {err}; starting the round from scratch")
            return None
        self._last_gen, self._last_time = resumed.generation, self.clock()
        self.log(f"resuming from checkpoint {self.path} at generation {resumed.generation}")
        self.earlier_machines, self._resumed_at = resumed.machines, resumed.generation
        here = trained_on()
        if resumed.machines and resumed.machines[-1][0] != here:
            self.log(
                f"resuming on another machine than the one that trained the first "
                f"{resumed.generation} generations ({resumed.machines[-1][0]}; this one: "
                f"{here}): the round goes on from the same state, but its last bits "
                "may differ from that machine's (trained_on in trained.h5 names both)"
            )
        return resumed

    def _machines(self) -> list[tuple[str, int]]:
        """The machines that trained this round so far, with the generation each took
        over at, this process's last."""
        here, earlier = trained_on(), list(self.earlier_machines)
        if earlier and earlier[-1][0] == here:
            return earlier
        return [*earlier, (here, self._resumed_at)]

    def trained_on(self) -> str:
        """The machine that trained the round (:func:`evotickets.host.trained_on`), or, for a
        round resumed on other hardware, each machine and the generation it took over at."""
        machines = self._machines()
        if len(machines) == 1:
            return machines[0][0]
        return "; then ".join(f"{m} (from generation {g})" for m, g in machines)

    def _load(self, template: Any, total: int, chunk: int, names_of_curves) -> Resumed:
        import jax

        leaves, treedef = jax.tree_util.tree_flatten(template)
        names = leaf_names(template)
        with h5py.File(self.path, "r") as f:
            if f.attrs.get("schema") != SCHEMA:
                raise ValueError(f"schema {f.attrs.get('schema')!r}, expected {SCHEMA!r}")
            if f.attrs.get("round_digest") != self.digest:
                changes = software_changes(f.attrs.get("software"), self.software)
                if changes:
                    raise ValueError(
                        f"it was written by other software or settings ({'; '.join(changes)}), "
                        "and a round resumed across that would be half of each"
                    )
                if f.attrs.get(SETTINGS_DIGEST_ATTR) == self._settings_digest:  # the program
                    written_by = _program_words(
                        f.attrs.get(GROUP_PROGRAM_ATTR), f.attrs.get(GROUP_WIDTH_ATTR, 1)
                    )
                    raise ValueError(
                        f"it was written by {written_by}, and this round runs in "
                        f"{_program_words(self.group_program, self.group_width)}: a round is "
                        "not resumed across programs (their last bits may differ, on a GPU)"
                    )
                raise ValueError(
                    f"it belongs to another round or settings (digest "
                    f"{f.attrs.get('round_digest')} ≠ {self.digest})"
                )
            g = int(f.attrs["generation"])
            if not 0 < g < total or (g % chunk and g != total):
                raise ValueError(f"generation {g} is not a chunk boundary in (0, {total})")
            stored = [str(n) for n in f.attrs["leaves"]]
            if stored != names:
                raise ValueError(f"state leaves {stored} do not match the strategy's {names}")
            restored, scalars = [], {}
            for name, ref in zip(names, leaves, strict=True):
                value = f[f"state/{name}"][()]
                if np.ndim(value) == 0:
                    scalars[name] = value
                if _is_key(ref):
                    value = jax.random.wrap_key_data(value, impl=jax.random.key_impl(ref))
                    ok, held = value.shape == ref.shape, f"{value.dtype}{value.shape}"
                else:
                    ref_np = np.asarray(ref)
                    ok = value.shape == ref_np.shape and value.dtype == ref_np.dtype
                    held = f"{value.dtype}{np.shape(value)}"  # as stored, before JAX casts it
                    value = jax.numpy.asarray(value)
                if not ok:
                    raise ValueError(
                        f"state leaf {name} has {held}, the strategy needs {ref.dtype}{ref.shape}"
                    )
                restored.append(value)
            recorded = f.attrs.get(SCALARS_ATTR)  # checkpoints before 2026-12-07 have none
            if recorded is not None and str(recorded) != scalars_digest(scalars):
                raise ValueError(
                    f"its scalar state leaves {sorted(scalars)} do not match their recorded "
                    "digest: the file is damaged"
                )
            missing = [n for n in names_of_curves if f"curves/{n}" not in f]
            if missing:
                raise ValueError(f"curves {missing} are missing")
            curves = {name: f[f"curves/{name}"][()] for name in names_of_curves}
            machines = _machines_of(f.attrs.get("machines"))
        return Resumed(jax.tree_util.tree_unflatten(treedef, restored), g, curves, machines)

    def remove(self) -> None:
        """Delete the checkpoint (after the round's artifact is complete)."""
        remove_checkpoint(self.path)


def _machines_of(stored: Any) -> list[tuple[str, int]]:
    """A checkpoint's ``machines`` attribute as (machine, generation) pairs; [] where it has
    none (written before they were recorded)."""
    if stored is None:
        return []
    pairs = json.loads(stored)
    if not (isinstance(pairs, list) and all(
        isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], int)
        for p in pairs
    )):  # fmt: skip
        raise ValueError(f"attribute machines is not a list of [machine, generation]: {stored}")
    return [(m, g) for m, g in pairs]


def cadence_from_env(
    every_generations: int | None = None, every_seconds: float | None = None
) -> tuple[int | None, float]:
    """The cadence: explicit arguments, else the environment, else every ~120 s of work."""
    if every_generations is None and os.environ.get(EVERY_GENERATIONS_ENV, "").strip():
        every_generations = _env_number(
            EVERY_GENERATIONS_ENV, int, lambda n: n >= 0, "a whole number ≥ 1, or 0 to disable"
        )
    if every_seconds is None and os.environ.get(EVERY_SECONDS_ENV, "").strip():
        every_seconds = _env_number(
            EVERY_SECONDS_ENV, float, _positive_seconds, "a positive number of seconds"
        )
    if every_generations is not None and every_generations < 0:
        raise ValueError(
            f"checkpoint every {every_generations} generations: use ≥ 1, or 0 to disable"
        )
    if every_seconds is not None and not _positive_seconds(every_seconds):  # nan passed <= 0
        raise ValueError(f"checkpoint every {every_seconds} s: use a positive number of seconds")
    return every_generations, DEFAULT_EVERY_SECONDS if every_seconds is None else every_seconds


def _positive_seconds(x: float) -> bool:
    return math.isfinite(x) and x > 0


def _env_number(name: str, kind: type, ok: Callable[[Any], bool], what: str) -> Any:
    """The environment variable ``name`` as a ``kind``, or an error naming the variable, its
    value and what it must be (a bad value otherwise surfaced as int()'s own message)."""
    raw = os.environ[name].strip()
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not ok(value):
        raise ValueError(f"{name}={raw!r}: set it to {what}, or unset it")
    return value


def for_round(
    out: str | os.PathLike,
    *,
    chain_digest: str,
    round_index: int,
    strategy: str,
    mask: np.ndarray,
    theta0: np.ndarray,
    num_generations: int,
    log_every: int,
    every_generations: int | None = None,
    every_seconds: float | None = None,
    log: Callable[[str], None] = print,
) -> Checkpointer:
    """The checkpointer of the round whose artifact is ``out``; its digest covers everything
    that determines the round's numbers, the software included (:func:`software_fingerprint`)."""
    every_generations, every_seconds = cadence_from_env(every_generations, every_seconds)
    digest = round_digest(
        chain_digest=chain_digest,
        round=int(round_index),
        strategy=strategy,
        mask=np.asarray(mask, bool),
        start=np.asarray(theta0, np.float32)[np.asarray(mask, bool)],
        num_generations=int(num_generations),
        chunk=int(max(1, min(log_every, num_generations))),
        versions=software_fingerprint(),
    )
    return Checkpointer(
        checkpoint_path(out),
        digest,
        software=software_fingerprint(),
        every_generations=every_generations,
        every_seconds=every_seconds,
        log=log,
    )
