"""Helpers the workflow tests (and the checkpoint test) share: run Snakemake on a work folder,
write its config, list and compare artifacts."""

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = str(Path(sys.executable).parent)


@functools.cache
def no_slurm_controller() -> str:
    """A folder whose `scontrol` fails at once. Why: every snakemake run loads the SLURM
    executor plugin, which asks `scontrol show config` with a 10 s timeout; with SLURM
    installed and no controller up (this machine outside CI) each run waited 9 s for it
    (bench 5). Runs that execute locally submit nothing, so a failing answer changes nothing;
    the SLURM tests (tests/workflow/test_slurm.py) keep the real one."""
    folder = Path(tempfile.mkdtemp(prefix="no-slurm-"))
    atexit.register(shutil.rmtree, folder, True)
    (folder / "scontrol").write_text("#!/bin/sh\nexit 1\n")
    (folder / "scontrol").chmod(0o755)
    return str(folder)


def local_env(path: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a Snakemake run that executes locally: ``path`` (by default the
    venv's bin before the caller's PATH) behind :func:`no_slurm_controller`, plus ``extra``."""
    path = path or BIN + os.pathsep + os.environ["PATH"]
    return {**os.environ, "PATH": no_slurm_controller() + os.pathsep + path, **extra}


def snakemake_cmd(workdir: Path, *args: str, cores: int | None = 2) -> list[str]:
    """Snakemake on ``workdir`` with the project's Snakefile and the folder's own config
    (``cores=None`` leaves the cores to a profile)."""
    return [
        "snakemake",
        *args,
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        *(["--cores", str(cores)] if cores else []),
        "--configfile",
        str(workdir / "config" / "config.yaml"),
    ]


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = snakemake_cmd(workdir, *args)
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=local_env(), timeout=900, check=False
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def write_config(workdir: Path, cfg: dict, cache: Path) -> None:
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    cfg = {**cfg, "jax_cache_dir": str(cache)}
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))


def artifacts(workdir: Path) -> dict[str, int]:
    return {
        str(p.relative_to(workdir)): p.stat().st_mtime_ns
        for p in sorted((workdir / "results").rglob("*.h5"))
    }


#: Attributes that record when or how fast, not what: a rerun or another job layout changes them.
CLOCK_ATTRS = {"created", "inputs_written", "seconds_per_epoch"}


def content(path: Path) -> tuple[dict, dict]:
    with h5py.File(path, "r") as f:
        attrs = {k: v for k, v in f.attrs.items() if k not in CLOCK_ATTRS}
        arrays = {}
        f.visititems(
            lambda n, o: arrays.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None
        )
    return arrays, attrs


def assert_same(a: Path, b: Path) -> None:
    (xa, aa), (xb, ab) = content(a), content(b)
    assert xa.keys() == xb.keys()
    for k in xa:
        np.testing.assert_array_equal(xa[k], xb[k], err_msg=f"{a} vs {b}: {k}")
    assert {k: str(v) for k, v in aa.items()} == {k: str(v) for k, v in ab.items()}


#: The training stack: what Snakemake's planning and the reporting verbs must not import.
HEAVY = ("jax", "jaxlib", "evosax", "flax", "optax", "gymnax", "brax")


def without_training_stack(folder: Path) -> str:
    """A PYTHONPATH under which every module of :data:`HEAVY` raises ImportError (a shim
    package per name in ``folder``); checked to work before it is returned."""
    for name in HEAVY:
        (folder / name).mkdir(parents=True, exist_ok=True)
        (folder / name / "__init__.py").write_text(f"raise ImportError('no {name} here')\n")
    probe = subprocess.run(
        [sys.executable, "-c", "import jax"],
        env={**os.environ, "PYTHONPATH": str(folder)},
        capture_output=True,
        check=False,
    )
    assert probe.returncode != 0, "the shim does not hide jax"
    return str(folder)
