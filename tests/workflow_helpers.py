"""Helpers the workflow tests (and the checkpoint test) share: run Snakemake on a work folder,
write its config, list and compare artifacts."""

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = str(Path(sys.executable).parent)


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
    env = {**os.environ, "PATH": BIN + os.pathsep + os.environ["PATH"]}
    cmd = snakemake_cmd(workdir, *args)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, check=False)
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
