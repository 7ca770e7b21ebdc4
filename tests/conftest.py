"""Shared fixtures: a session-wide persistent JAX compilation cache and the tiny config."""

from __future__ import annotations

import contextlib
import copy
import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

# One cache per pytest-xdist worker (`make test` runs two): JAX writes a cache entry in place,
# so two processes compiling the same program at once must not share the folder.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
_CACHE = Path(
    os.environ.get("EVOTICKETS_TEST_JAX_CACHE")
    or ROOT / ".pytest_cache" / (f"jax-cache-{_WORKER}" if _WORKER else "jax-cache")
)
os.environ["EVOTICKETS_TEST_JAX_CACHE"] = str(_CACHE)  # tests/chaos.py reads it
_CACHE.mkdir(parents=True, exist_ok=True)
os.environ["EVOTICKETS_JAX_CACHE"] = str(_CACHE)
jax.config.update("jax_compilation_cache_dir", str(_CACHE))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)

TINY_CONFIG = {
    "experiment": "tiny",
    "data_dir": None,
    "seeds": [0, 1],
    "rounds": 3,
    "prune_fraction": 0.2,
    "methods": ["random", "magnitude", "snr"],
    "tasks": {"digits": {"network": "cnn_small", "batch_size": 64, "population_chunk": 16}},
    "strategies": {
        "snes": {"population_size": 16, "std_init": 0.05, "temperature": 12.0},
    },
    "es": {"num_generations": 20, "log_every": 10},
    "analyses": {
        "tasks": ["digits"],
        "methods": ["snr"],
        "lmc": {"alphas": 5},
        "landscape": {"directions": 2, "xi_points": 5, "grid_points": 3, "eval_examples": 64},
    },
    "resources": {"gpu": 0, "mem_mb": 1000, "runtime": 10, "threads": 1},
}


@pytest.fixture
def tiny_config() -> dict:
    """A deep copy of the tiny config, free to mutate."""
    return copy.deepcopy(TINY_CONFIG)


@pytest.fixture(scope="session")
def tiny_digits():
    """The small digits CNN (8×8 inputs) as ES rounds see it: the task (batch 64, population
    chunk 16), its layer table, θ0 as a vector and the indices of its prunable weights."""
    import numpy as np

    from evotickets.networks import init_params, layer_table, prunable_vector, to_vector
    from evotickets.tasks import make_task

    theta = init_params("cnn_small", (8, 8, 1), jax.random.key(0))
    table = layer_table(theta)
    task = make_task("digits", {"batch_size": 64, "population_chunk": 16}, table)
    return task, table, to_vector(theta, table), np.flatnonzero(prunable_vector(table))


@pytest.fixture
def jit_compiles(caplog):
    """``count(name)``: how often JAX compiled (or loaded from its persistent cache) the
    jitted function ``name`` so far in the test, from what ``jax.log_compiles()`` logs."""

    def count(name: str) -> int:
        return sum(r.getMessage().startswith(f"Compiling jit({name}) ") for r in caplog.records)

    return count


@pytest.fixture(scope="session")
def jax_cache_dir() -> Path:
    return _CACHE


def pytest_collection_modifyitems(config, items) -> None:
    """Markers by folder: tests/unit (pure functions, small JAX programs), tests/integration
    (CLI verbs on real artifacts), tests/workflow (Snakemake runs: `slow`; the SLURM ones also
    `slurm`). `pytest -m "not slow"` is the inner loop; `make test` runs everything.

    Order: the longest files first (the two that run the tiny workflow several times, then
    the other workflow files), then integration, then unit; stable within a file. `make test`
    hands whole files to two workers in this order (`--no-loadscope-reorder`; xdist would
    otherwise order files by their number of tests), so the long Snakemake files start at
    once and the short unit files fill in beside them, instead of one running alone at the
    end."""
    rank = {"test_workflow.py": 0, "test_kill.py": 1, "workflow": 2, "integration": 3}
    items.sort(key=lambda item: min(rank.get(p, 4) for p in Path(str(item.fspath)).parts))
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "workflow" in parts:
            item.add_marker(pytest.mark.slow)
        if "test_slurm.py" in parts:
            item.add_marker(pytest.mark.slurm)


@contextlib.contextmanager
def held_open_for_writing(path: Path):
    """Another process holding the HDF5 file ``path`` open for writing (HDF5's exclusive
    lock), killed on exit as a crashed writer would be: it leaves HDF5's open-for-write mark
    in the superblock (the only bytes it changes)."""
    code = (
        f"import h5py, time; f = h5py.File({str(path)!r}, 'a'); print('open', flush=True); "
        "time.sleep(120)"
    )
    # with HDF5's locks on, whatever the environment says (README advises turning them off
    # on file systems without them)
    env = {k: v for k, v in os.environ.items() if k != "HDF5_USE_FILE_LOCKING"}
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def changed_only_in_superblock(before: bytes, after: bytes) -> bool:
    """Whether ``after`` is ``before`` but for HDF5's superblock (48 bytes at most for
    these files: its status flags and their checksum), i.e. nothing rewritten the file."""
    diff = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    return len(before) == len(after) and all(i < 48 for i in diff)


def hdf5_locks_off() -> bool:
    """Whether this process's HDF5 runs without file locks (HDF5_USE_FILE_LOCKING, read once
    when the library starts: README's advice for file systems without them). A test of
    what a lock does then has nothing to test."""
    return os.environ.get("HDF5_USE_FILE_LOCKING", "").upper() in ("FALSE", "0")
