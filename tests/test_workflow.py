"""End to end through Snakemake on the tiny config: a full run, a no-op rerun, a deleted middle
round recomputing exactly the rounds after it (to identical numbers), and single targets."""

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from conftest import ROOT

BIN = str(Path(sys.executable).parent)


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": BIN + os.pathsep + os.environ["PATH"]}
    cmd = [
        "snakemake",
        *args,
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        "--configfile",
        str(workdir / "config" / "config.yaml"),
    ]
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


def content(path: Path) -> tuple[dict, dict]:
    with h5py.File(path, "r") as f:
        attrs = {k: v for k, v in f.attrs.items() if k != "created"}
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


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from conftest import _CACHE, TINY_CONFIG

    work = tmp_path_factory.mktemp("wf")
    write_config(work, TINY_CONFIG, _CACHE)
    snakemake(work)
    return work


def test_full_run_writes_every_round_and_the_table(finished_run):
    chains = finished_run / "results" / "tiny" / "digits" / "snes"
    trained = sorted(chains.rglob("trained.h5"))
    assert len(trained) == 3 * 2 * 3  # methods × seeds × rounds
    table = (finished_run / "results" / "tiny" / "accuracy_table.txt").read_text()
    for word in ("random", "magnitude", "snr", "100.0%", "80.0%", "64.0%"):
        assert word in table
    with h5py.File(chains / "snr" / "seed1" / "iter02" / "trained.h5") as f:
        assert f.attrs["kept_prunable"] == 1193 and f.attrs["round"] == 2
        assert 0.0 < f.attrs["final_metric"] <= 1.0
        assert f["curves/best_fitness"].shape == (20,)
        assert f.attrs["schema"] == "evotickets.trained/1"


def test_round_zero_is_shared_across_methods_and_seeds_differ(finished_run):
    chains = finished_run / "results" / "tiny" / "digits" / "snes"
    (xa, aa), (xb, ab) = (
        content(chains / m / "seed0/iter00/trained.h5") for m in ("magnitude", "snr")
    )
    for k in xa:  # common random numbers: the dense round is the same computation
        np.testing.assert_array_equal(xa[k], xb[k])
    assert aa["final_metric"] == ab["final_metric"]
    a, _ = content(chains / "snr/seed0/iter02/trained.h5")
    b, _ = content(chains / "snr/seed1/iter02/trained.h5")
    assert not np.array_equal(a["params/Conv_0/kernel"], b["params/Conv_0/kernel"])
    i0, _ = content(finished_run / "results/tiny/digits/seed0/init.h5")
    i1, _ = content(finished_run / "results/tiny/digits/seed1/init.h5")
    assert not np.array_equal(i0["params/Conv_0/kernel"], i1["params/Conv_0/kernel"])


def test_rerun_does_nothing_and_deleting_a_round_recomputes_only_its_successors(finished_run):
    work = finished_run
    before = artifacts(work)
    out = snakemake(work)
    assert "Nothing to be done" in out.stdout + out.stderr
    assert artifacts(work) == before

    chain = Path("results/tiny/digits/snes/magnitude/seed0")
    victim = work / chain / "iter01" / "trained.h5"
    saved = {}
    for rel in ("iter01/trained.h5", "iter02/mask.h5", "iter02/trained.h5"):
        saved[rel] = work / f"saved-{rel.replace('/', '-')}"
        saved[rel].write_bytes((work / chain / rel).read_bytes())
    victim.unlink()
    snakemake(work)
    after = artifacts(work)
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {
        str(chain / r) for r in ("iter01/trained.h5", "iter02/mask.h5", "iter02/trained.h5")
    }
    for rel, copy in saved.items():  # same config and seed: the same numbers
        assert_same(copy, work / chain / rel)


def test_a_single_target_computes_only_what_it_needs(tmp_path):
    from conftest import _CACHE, TINY_CONFIG

    write_config(tmp_path, TINY_CONFIG, _CACHE)
    target = "results/tiny/digits/snes/snr/seed1/iter01/trained.h5"
    snakemake(tmp_path, target)
    assert set(artifacts(tmp_path)) == {
        "results/tiny/digits/seed1/init.h5",
        "results/tiny/digits/snes/snr/seed1/iter00/mask.h5",
        "results/tiny/digits/snes/snr/seed1/iter00/trained.h5",
        "results/tiny/digits/snes/snr/seed1/iter01/mask.h5",
        target,
    }
