"""Which accelerator a verb runs on, and a clear error when a GPU was asked for but JAX has none.

``EVOTICKETS_PLATFORM`` (environment):

- ``cpu``: JAX uses the CPU even where a GPU is visible;
- ``gpu``: ``evotickets train`` must run on a GPU and stops at once, naming the fix, if JAX sees
  none (a CPU-only jax install, a node without GPUs) instead of training for days on a CPU;
- unset: JAX's default.

The workflow sets ``EVOTICKETS_PLATFORM=gpu`` when the config asks for GPUs
(``resources.gpu > 0``), and a SLURM job that was given GPUs (``SLURM_GPUS_ON_NODE``) must see
them too. Only the verbs that train a round (``evotickets train``, its ``round`` and group
forms, and ``transfer``) check: the CPU verbs (init, mask, table) run on
CPU-only nodes by design, and ``evotickets mask`` also runs, on whatever the job has, as the
first step of the workflow's ``train`` rule.
"""

from __future__ import annotations

import os
from pathlib import Path

PLATFORM_ENV = "EVOTICKETS_PLATFORM"
#: The persistent JAX compilation cache's folder where a verb is given no ``--jax-cache``.
JAX_CACHE_ENV = "EVOTICKETS_JAX_CACHE"
CHOICES = ("cpu", "gpu")


class PlatformError(RuntimeError):
    """The requested accelerator is not available; the message says how to fix it."""


def requested() -> str:
    """``cpu``, ``gpu`` or ``''`` (JAX's default), from the environment."""
    value = os.environ.get(PLATFORM_ENV, "").strip().lower()
    if value and value not in CHOICES:
        raise PlatformError(
            f"{PLATFORM_ENV}={value!r} is not a platform; set it to one of {CHOICES} or unset it"
        )
    return value


def _slurm_gpus() -> int:
    raw = os.environ.get("SLURM_GPUS_ON_NODE", "").strip()
    return int(raw) if raw.isdigit() else 0


def configure(needs_gpu: bool = False, devices=None) -> str:
    """Apply the requested platform before JAX starts; for a GPU verb (``needs_gpu``), fail
    if a GPU was requested and JAX has none. ``devices`` is for tests (default
    ``jax.devices()``). Returns the platform JAX runs on."""
    want = requested()
    import jax

    if want == "cpu":
        jax.config.update("jax_platforms", "cpu")
    devices = jax.devices() if devices is None else devices
    platforms = sorted({d.platform for d in devices})
    has_gpu = any(p in ("gpu", "cuda", "rocm") for p in platforms)
    why = (
        f"{PLATFORM_ENV}=gpu (set by you, or by the workflow because the config has "
        "resources.gpu > 0)"
        if want == "gpu"
        else f"SLURM gave this job {_slurm_gpus()} GPU(s)"
        if want == "" and _slurm_gpus() > 0
        else None
    )
    if needs_gpu and why and not has_gpu:
        raise PlatformError(
            f"a GPU was asked for ({why}) but JAX sees only {', '.join(platforms)} devices. "
            "Fix: install JAX's CUDA build with `pip install -e '.[gpu]'` and run on a GPU "
            f"node; or, to train on the CPU on purpose, set `resources.gpu: 0` in the config "
            f"(or export {PLATFORM_ENV}=cpu)"
        )
    return "gpu" if has_gpu else platforms[0]


def use_host_devices(n: int) -> None:
    """Expose the CPU as ``n`` host devices, with synchronous dispatch. Call before JAX's
    first operation (raises ``RuntimeError`` after it).

    Why synchronous: a program whose members are split across host devices gathers their
    fitness with a collective, and each device's part must reach it. With JAX's asynchronous
    CPU dispatch, such programs called back to back without waiting for their results
    deadlocked there on this 2-core machine: XLA waits 40 s for the missing device, then
    aborts the process ("Termination timeout for `all reduce ...`: only 1 of them
    arrived"). With ``jax_cpu_enable_async_dispatch`` off, each call returns once its
    program has run, and the same loops finish (tests/unit/test_host_devices.py; jax issue
    25861 reports hangs with asynchronous CPU dispatch that the same setting avoids). A chunk
    of ES generations is one program whose result the host reads before the next, so
    training loses nothing. (The other deadlock seen, a split result read by later programs,
    is mended by :func:`evotickets.parallel.whole`; bench/README.md, "Host
    devices".)

    Why XLA's ``spmd-cleanup`` pipeline is skipped (:func:`skip_spmd_cleanup`): a program for
    several devices goes through XLA's SPMD partitioner, whose cleanup runs common-subexpression
    elimination before the algebraic simplifier; that merged, e.g., SNES's ``(x - mean) / std``
    broadcast with ``ask``'s, and the simplifier then left the division alone where the
    one-device program, compiled without that pass, rewrites it as a product with ``1 / std``:
    SNES rounds differed from one device's in the last bits. Without the cleanup (its
    dead-code, tuple and CSE passes run again later in XLA's pipeline) a round of every
    strategy of the registry is bitwise the one-device round (tests/unit/test_host_devices.py,
    bench/README.md "Host devices")."""
    import jax

    jax.config.update("jax_num_cpu_devices", n)
    jax.config.update("jax_cpu_enable_async_dispatch", False)
    os.environ["XLA_FLAGS"] = skip_spmd_cleanup(os.environ.get("XLA_FLAGS", ""))


SPMD_CLEANUP = "spmd-cleanup"


def skip_spmd_cleanup(flags: str) -> str:
    """``flags`` (XLA_FLAGS) with ``spmd-cleanup`` among the disabled HLO passes, keeping any
    passes the user disabled already (XLA reads only the last ``--xla_disable_hlo_passes``)."""
    option = "--xla_disable_hlo_passes="
    words = flags.split()
    disabled = [w[len(option) :] for w in words if w.startswith(option)]
    passes = [p for value in disabled for p in value.split(",") if p]
    if SPMD_CLEANUP not in passes:
        passes.append(SPMD_CLEANUP)
    kept = [w for w in words if not w.startswith(option)]
    return " ".join([*kept, option + ",".join(passes)])


CPU_DEVICES_ENV = "EVOTICKETS_CPU_DEVICES"


def cpu_devices() -> int:
    """The host devices ``EVOTICKETS_CPU_DEVICES`` asks for (1 where unset), or a
    PlatformError naming the variable: 'abc' failed as a bare int() error, and 0 or -2
    trained on one device without a word."""
    text = os.environ.get(CPU_DEVICES_ENV, "").strip()
    if not text:
        return 1
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise PlatformError(
            f"{CPU_DEVICES_ENV}={text!r}: give a whole number of host devices ≥ 1 (e.g. 2, "
            "the cores one job may use), or unset it for one"
        )
    return n


def _make_cache_dir(path: Path) -> None:
    """The compilation cache's folder, made if missing, or a PlatformError naming what is in
    the way (a file of that name failed every job after its mask with FileExistsError)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as err:
        raise PlatformError(
            f"the JAX compilation cache {path} is not a folder ({err.strerror}): set "
            f"jax_cache_dir (or {JAX_CACHE_ENV}) to a folder, or move that file away"
        ) from err


def setup_jax(cache_dir: str | None, needs_gpu: bool = False) -> None:
    """Persistent compilation cache shared by all jobs: chains with the same D_active (every
    seed and method at one round) compile once. Also honours EVOTICKETS_PLATFORM=cpu|gpu
    (a GPU verb stops with a clear error if a GPU was asked for and there is none).

    EVOTICKETS_CPU_DEVICES=n (opt-in) exposes the CPU as n host devices, across which the task
    splits the population (:func:`use_host_devices`): XLA runs the small ops of the fitness loop
    on one core per device, so this is how one job uses several cores. Snakemake's default,
    one job per core, needs it not. Ignored once JAX has run."""
    n_cpu = cpu_devices()
    if n_cpu > 1:
        try:
            use_host_devices(n_cpu)
        except RuntimeError:  # a backend is already up (e.g. the CLI called in-process)
            pass
    configure(needs_gpu=needs_gpu)
    import jax

    if cache_dir:
        _make_cache_dir(Path(cache_dir))
        jax.config.update("jax_compilation_cache_dir", str(cache_dir))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
