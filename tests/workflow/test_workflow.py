"""End to end through Snakemake on the tiny config: a full run, a no-op rerun, a deleted middle
round recomputing exactly the rounds after it (to identical numbers), and single targets."""

import json
import os
import re
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from conftest import ROOT
from workflow_helpers import (
    BIN,
    artifacts,
    assert_same,
    content,
    local_env,
    snakemake,
    snakemake_cmd,
    without_training_stack,
    write_config,
)

from evotickets import host, paths


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from conftest import _CACHE, TINY_CONFIG

    work = tmp_path_factory.mktemp("wf")
    write_config(work, TINY_CONFIG, _CACHE)
    snakemake(work)
    return work


def _round(file: str, method: str, seed: int, it: int) -> str:
    """A file of one round of the tiny config's SNES chains, as the workflow lays it out."""
    return paths.round_file(file, "tiny", "digits", "snes", method, seed, it)


def test_full_run_writes_every_round_and_the_table(finished_run):
    chains = finished_run / paths.experiment(exp="tiny") / "digits" / "snes"
    trained = sorted(chains.rglob("trained.h5"))
    assert len(trained) == 3 * 2 * 3  # methods × seeds × rounds
    table = (finished_run / paths.experiment_file("accuracy_table.txt", "tiny")).read_text()
    for word in ("random", "magnitude", "snr", "100.0%", "80.0%", "64.0%"):
        assert word in table
    with h5py.File(finished_run / _round("trained.h5", "snr", 1, 2)) as f:
        assert f.attrs["kept_prunable"] == 1193 and f.attrs["round"] == 2  # 1864 · 0.8² = 1192.96
        assert 0.0 < f.attrs["final_metric"] <= 1.0
        assert f["curves/best_fitness"].shape == (20,)
        assert f.attrs["schema"] == "evotickets.trained/1"
        assert f.attrs["trained_on"] == host.trained_on()  # this machine, as the table says
    assert table.endswith(f"trained on: {host.trained_on()} (18 rounds)\n")


def test_round_zero_is_shared_across_methods_and_seeds_differ(finished_run):
    (xa, aa), (xb, ab) = (
        content(finished_run / _round("trained.h5", m, 0, 0)) for m in ("magnitude", "snr")
    )
    for k in xa:  # common random numbers: the dense round is the same computation
        np.testing.assert_array_equal(xa[k], xb[k])
    assert aa["final_metric"] == ab["final_metric"]
    # trained once, by the donor chain (random, the config's first method), copied by the rest
    assert aa["round0_from"] == ab["round0_from"] == _round("trained.h5", "random", 0, 0)
    a, _ = content(finished_run / _round("trained.h5", "snr", 0, 2))
    b, _ = content(finished_run / _round("trained.h5", "snr", 1, 2))
    assert not np.array_equal(a["params/Conv_0/kernel"], b["params/Conv_0/kernel"])
    i0, _ = content(finished_run / paths.init(exp="tiny", task="digits", seed=0))
    i1, _ = content(finished_run / paths.init(exp="tiny", task="digits", seed=1))
    assert not np.array_equal(i0["params/Conv_0/kernel"], i1["params/Conv_0/kernel"])


def test_rerun_does_nothing_and_deleting_a_round_recomputes_only_its_successors(finished_run):
    work = finished_run
    before = artifacts(work)
    out = snakemake(work)
    assert "Nothing to be done" in out.stdout + out.stderr
    assert artifacts(work) == before
    # how the jobs run is no param of the reports: a new runtime or memory request reran
    # the table, collect, the claims and every figure; and where the JAX compilation cache
    # lives is no param of any job: a new jax_cache_dir (node-local scratch on a cluster)
    # reran every round
    from conftest import _CACHE, TINY_CONFIG

    resources = {**TINY_CONFIG["resources"], "runtime": 99, "mem_mb": 1234}
    # nor where the data lives (the settings JSON, every job's param, held it: moving the
    # data to a cluster's scratch reran every job); the verbs get it on their command line
    data = work / "moved-data"
    data.mkdir(exist_ok=True)
    moved = {**TINY_CONFIG, "resources": resources, "data_dir": str(data)}
    write_config(work, moved, work / "another-jax-cache")
    try:
        dry = snakemake(work, "-n")
        assert "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout[-3000:]
        forced = snakemake(work, "-n", "-p", "-f", _round("trained.h5", "snr", 0, 1)).stdout
        assert f"env EVOTICKETS_DATA_DIR={data} " in forced
        assert '"data_dir": null' in forced.replace('\\"', '"')  # the settings JSON's
    finally:
        write_config(work, TINY_CONFIG, _CACHE)

    redone = [_round(f, "magnitude", 0, it) for it in (1, 2) for f in ("mask.h5", "trained.h5")]
    saved = {}
    for rel in redone:
        saved[rel] = work / f"saved-{len(saved)}.h5"
        saved[rel].write_bytes((work / rel).read_bytes())
    (work / _round("trained.h5", "magnitude", 0, 1)).unlink()
    snakemake(work)
    after = artifacts(work)
    changed = {k for k in after if after[k] != before.get(k)}
    # the deleted round's job makes its mask again too (same bytes but for `created`)
    assert changed == set(redone)
    for rel, copy in saved.items():  # same config and seed: the same numbers
        assert_same(copy, work / rel)


def test_a_single_target_computes_only_what_it_needs(tmp_path):
    from conftest import _CACHE, TINY_CONFIG

    write_config(tmp_path, TINY_CONFIG, _CACHE)
    target = _round("trained.h5", "snr", 1, 1)
    snakemake(tmp_path, target)
    assert set(artifacts(tmp_path)) == {
        paths.init(exp="tiny", task="digits", seed=1),
        _round("mask.h5", "random", 1, 0),  # random's chain trains round 0 for every method
        _round("trained.h5", "random", 1, 0),
        _round("mask.h5", "snr", 1, 0),
        _round("trained.h5", "snr", 1, 0),
        _round("mask.h5", "snr", 1, 1),
        target,
    }


def test_rules_find_the_cli_without_the_venv_on_path(tmp_path):
    """`.venv/bin/snakemake` run without activating the venv: the rules call the CLI of the
    interpreter running Snakemake, not whatever `evotickets` PATH holds (none: exit 127)."""
    import shutil

    from conftest import _CACHE, TINY_CONFIG

    bare = "/usr/bin:/bin"
    assert shutil.which("evotickets", path=bare) is None, "the test needs a PATH without it"
    write_config(tmp_path, TINY_CONFIG, _CACHE)
    target = paths.init(exp="tiny", task="digits", seed=0)
    proc = subprocess.run(
        [
            str(Path(BIN) / "snakemake"),
            target,  # before --configfile, which takes every argument after it
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--cores",
            "1",
            "--configfile",
            str(tmp_path / "config" / "config.yaml"),
        ],
        capture_output=True,
        text=True,
        env=local_env(path=bare),
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with h5py.File(tmp_path / target, "r") as f:
        assert str(f.attrs["schema"]).startswith("evotickets.init/")


def test_collect_of_one_seed_leaves_an_lmc_across_seeds_out(finished_run, tmp_path):
    """A config narrowed to one seed, collected over a run of two: the lmc_seeds.h5 left by
    the run joins a seed the config no longer has, so it is not read (collect failed with a
    TypeError on the missing pair); the seed's own rounds are gathered."""
    import xarray as xr
    from conftest import TINY_CONFIG

    cfg = tmp_path / "one-seed.yaml"
    cfg.write_text(yaml.safe_dump({**TINY_CONFIG, "seeds": [0]}))
    res = finished_run / paths.experiment(exp="tiny")
    assert list(res.rglob("lmc_seeds.h5"))  # the run of two seeds made one
    out = tmp_path / "summary.nc"
    proc = subprocess.run(
        [str(Path(BIN) / "python"), "-m", "evotickets", "collect", str(res), "--configfile",
         str(cfg), "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds.seed.values.tolist() == [0]
        assert np.isfinite(ds.test_metric.values).any()
        assert np.isnan(ds.lmc_barrier_seeds.values).all()
        assert "seed_pair" not in ds.lmc_barrier_seeds.attrs


def test_the_table_of_a_run_still_going_says_how_much_is_finished(finished_run):
    """A table made mid-run (the config asks for one round more than is there) says how
    many of the chain rounds it shows; it showed the finished ones without a word."""
    from conftest import TINY_CONFIG

    from evotickets.config import validate_config
    from evotickets.report import accuracy_table

    res = finished_run / paths.experiment(exp="tiny")
    whole = accuracy_table(res, validate_config(dict(TINY_CONFIG)))
    assert "chain rounds this config asks for" not in whole
    more = accuracy_table(
        res, validate_config({**TINY_CONFIG, "rounds": TINY_CONFIG["rounds"] + 1})
    )
    assert "(18 of the 24 chain rounds this config asks for are finished" in more


def test_collect_gathers_the_artifacts_into_xarray(finished_run):
    import xarray as xr

    res = finished_run / paths.experiment(exp="tiny")
    with xr.open_dataset(res / "summary.nc", engine="h5netcdf") as ds:
        ds = ds.load()
    assert set(ds.test_metric.dims) == {"task", "strategy", "method", "seed", "iteration"}
    assert ds.test_metric.attrs["long_name"] and "units" in ds.test_metric.attrs
    np.testing.assert_allclose(ds.sparsity.values, [0.0, 0.2, 0.36])
    # rounds per machine that trained them: all 18 on this one (evotickets.host)
    assert json.loads(ds.attrs["trained_on"]) == {host.trained_on(): 18}
    by_seed = {"0": {host.trained_on(): 9}, "1": {host.trained_on(): 9}}
    assert json.loads(ds.attrs["trained_on_by_seed"]) == by_seed  # for claims --seeds
    import evotickets

    software = json.loads(ds.attrs["software"])  # the rounds per version that trained them
    assert software["evotickets_version"] == {evotickets.__version__: 18}
    assert set(software) == {"evotickets_version", "jax_version", "evosax_version"}
    # the config it records is what the chains computed: not how the jobs ran, which
    # validation would have filled with the schema's defaults, not the run's own
    recorded = json.loads(ds.attrs["config"])
    assert recorded["seeds"] == [0, 1] and recorded["experiment"] == "tiny"
    assert "resources" not in recorded and "jax_cache_dir" not in recorded
    for method in ("random", "magnitude", "snr"):
        for seed in (0, 1):
            for it in range(3):
                path = finished_run / _round("trained.h5", method, seed, it)
                with h5py.File(path) as f:
                    want = f.attrs["final_metric"]
                got = ds.test_metric.sel(
                    {
                        "task": "digits",
                        "strategy": "snes",
                        "method": method,
                        "seed": seed,
                        "iteration": it,
                    }
                ).item()
                assert got == pytest.approx(want)
    assert ds.test_metric.mean("seed").shape == (1, 1, 3, 3)  # xarray reductions just work
    lmc = paths.chain_analysis("lmc_consecutive.h5", "tiny", "digits", "snes", "snr", 0)
    with h5py.File(finished_run / lmc) as f:
        barriers = f["barrier"][()]
    np.testing.assert_allclose(
        ds.lmc_barrier_consecutive.sel({"method": "snr", "seed": 0}).values.ravel()[:2], barriers
    )
    # seed 0 against seed 1 (rule lmc_seeds: the right ends checked against seed 1's settings)
    seeds = paths.seeds_analysis("lmc_seeds.h5", "tiny", "digits", "snes", "snr")
    with h5py.File(finished_run / seeds) as f:
        assert all("/seed1/" in p for p in json.loads(f.attrs["right"]))
        np.testing.assert_allclose(
            ds.lmc_barrier_seeds.sel({"method": "snr"}).values.ravel(), f["barrier"][()]
        )
    # the pair the rule ran, as the config lists it (the figure's title reads it)
    assert list(np.atleast_1d(ds.lmc_barrier_seeds.attrs["seed_pair"])) == [0, 1]
    # analyses were asked for snr only: other methods are NaN, never dropped
    assert np.isnan(ds.lmc_barrier_consecutive.sel({"method": "random"})).all()
    kept = ds.layer_kept_ratio.sel(
        {"method": "snr", "seed": 1, "iteration": 2, "tensor": "Conv_0/bias"}
    ).item()
    assert kept == 1.0  # biases are never pruned
    # the statistics say what they are over, and which round's cut a threshold is
    assert ds.layer_kept_ratio.attrs["long_name"] == (
        "per tensor: share of the tensor's weights kept in round t"
    )
    assert "for round t+1" in ds.threshold_snr.attrs["long_name"]
    # the task coordinates say what they are (rewind_budget's "" read as a missing value)
    assert "empty where rewind is 0" in ds.rewind_budget.attrs["long_name"]
    assert ds.rewind.attrs["long_name"].startswith("late rewinding's point k")
    assert "test_accuracy or test_return" in ds.metric_name.attrs["long_name"]
    assert "active prunable weights" in ds.rho_snr_magnitude.attrs["long_name"]
    # each chain's ticket against the magnitude chain's of its seed, counted here over the
    # layer table's prunable weights of the trained rounds' masks (collect reads mask.h5
    # and needs no table)
    from evotickets.config import chain_spec, load_config
    from evotickets.rounds import load_init

    cfg = load_config(finished_run / "config" / "config.yaml")
    shared = ds.kept_shared_with_magnitude.sel({"task": "digits", "strategy": "snes"})
    for seed in (0, 1):
        init = finished_run / paths.init("init.h5", "tiny", "digits", seed)
        _, table, prunable, _ = load_init(str(init), chain_spec(cfg, "digits", "snes", "snr", seed))

        def kept_mask(method, it, seed=seed, table=table, prunable=prunable):
            with h5py.File(finished_run / _round("trained.h5", method, seed, it)) as f:
                flat = {e.name: f[f"mask/{e.name}"][()] for e in table}
            return np.concatenate([flat[e.name].ravel() for e in table]).astype(bool) & prunable

        for it in range(3):
            reference = kept_mask("magnitude", it)
            for method in ("random", "magnitude", "snr"):
                kept_here = kept_mask(method, it)
                want = (kept_here & reference).sum() / kept_here.sum()
                got = shared.sel({"method": method, "seed": seed, "iteration": it}).item()
                assert got == pytest.approx(want), (method, seed, it)
    assert (shared.sel({"iteration": 0}) == 1.0).all()  # round 0 is dense for all
    assert (shared.sel({"method": "magnitude"}) == 1.0).all()
    # a random ticket shares about the remaining fraction (0.64 at round 2), not all of it
    assert (shared.sel({"method": "random", "iteration": 2}) < 0.9).all()


EXPECTED_PANELS = {  # on the tiny config: 1 task, 1 ES strategy, no GD / transfer / permutations
    "fig1": 2,
    "fig2": 1,
    "fig3": 1,
    "fig4": 1,
    "fig5": 1,
    "fig6": 4,
    "fig7": 4,
    "fig8": 1,
    "fig9": 1,
    "fig10": 6,
    "fig11": 1,
    "pruning_families": 1,  # "not in this experiment": the tiny config has no snip / grasp
    "tickets_shared": 1,  # digits / snes
}


def test_every_figure_renders_from_the_dataset(finished_run):
    import xarray as xr

    from evotickets.plots.figures import FIGURES

    res = finished_run / paths.experiment(exp="tiny")
    with xr.open_dataset(res / "summary.nc", engine="h5netcdf") as ds:
        ds = ds.load()
    assert set(FIGURES) == set(EXPECTED_PANELS)
    for name, panels in EXPECTED_PANELS.items():
        png = res / "figures" / f"{name}.png"
        assert png.stat().st_size > 5000, name
        fig = FIGURES[name](ds)
        assert len(fig.axes) == panels, name
    texts = [t.get_text() for t in FIGURES["fig4"](ds).axes[0].texts]
    assert any("not in this experiment" in t for t in texts)


def test_the_reporting_verbs_run_without_the_training_stack(finished_run, tmp_path):
    """collect, figure, claims and table read artifacts only: with JAX, evosax, flax & co.
    unimportable they still do their work, so a run's 15 reporting jobs (and rerunning one
    figure) do not pay for importing them (≈ 1.5 CPU-seconds a job here)."""
    env = {**os.environ, "PYTHONPATH": without_training_stack(tmp_path / "shim")}
    res = finished_run / paths.experiment(exp="tiny")

    def verb(*args: str) -> str:
        proc = subprocess.run(
            [str(Path(BIN) / "python"), "-m", "evotickets", *args],
            cwd=finished_run, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
        return proc.stdout

    config = str(finished_run / "config" / "config.yaml")
    verb("collect", str(res), "--configfile", config, "--out", str(tmp_path / "summary.nc"))
    assert (tmp_path / "summary.nc").stat().st_size > 10_000
    verb(
        "figure",
        "fig3",
        "--summary",
        str(tmp_path / "summary.nc"),
        "--out",
        str(tmp_path / "f.png"),
    )
    assert (tmp_path / "f.png").stat().st_size > 5000
    verb("claims", str(res), "--summary", str(tmp_path / "summary.nc"), "--out-dir", str(tmp_path))
    assert "magnitude − random" in (tmp_path / "claims.md").read_text()
    assert "snr" in verb("table", str(res))


def test_the_run_ends_with_the_claims_table(finished_run):
    import xarray as xr

    res = finished_run / paths.experiment(exp="tiny")
    text = (res / "claims.md").read_text()
    assert "magnitude − random" in text and "snr − magnitude" in text
    with xr.open_dataset(res / "claims.nc", engine="h5netcdf") as claims:
        rows = claims.load()
    ticket = rows.where(rows.comparison == "magnitude − random", drop=True)
    assert sorted(ticket.iteration.values.tolist()) == [1, 2]  # rounds after the dense one
    assert set(ticket.n.values.tolist()) == {2}  # both seeds, paired
    with xr.open_dataset(res / "summary.nc", engine="h5netcdf") as ds:
        m = ds.test_metric.sel({"task": "digits", "strategy": "snes", "iteration": 2}).load()
    diff = (m.sel({"method": "magnitude"}) - m.sel({"method": "random"})).mean("seed")
    at2 = ticket.where(ticket.iteration == 2, drop=True)["mean"].values.item()
    assert at2 == pytest.approx(float(diff))


def test_chains_grouped_in_one_job_give_the_same_artifacts(finished_run, tmp_path):
    """`resources.group_chains: seeds_and_methods` trains round t of every method and seed
    of a (task, strategy) in one job (3 jobs here instead of 18), the round-0 copies after
    their donor in the same job, and every mask and trained round is bitwise that of one
    job per chain, with each chain's own logs. (`seeds` runs in test_kill.py.)"""
    from conftest import _CACHE, TINY_CONFIG

    resources = {**TINY_CONFIG["resources"], "group_chains": "seeds_and_methods"}
    write_config(tmp_path, {**TINY_CONFIG, "resources": resources}, _CACHE)
    out = snakemake(tmp_path, paths.experiment_file("accuracy_table.txt", "tiny"))
    stats = out.stdout + out.stderr
    assert re.search(r"^train_pairs_digits_snes\s+3$", stats, re.MULTILINE), stats[-2000:]
    assert not re.search(r"^train\s+\d+$", stats, re.MULTILINE)
    grouped = [p for p in artifacts(tmp_path) if "/iter" in p]
    assert len(grouped) == 2 * 3 * 2 * 3  # mask + trained × methods × seeds × rounds
    for rel in grouped:
        assert_same(finished_run / rel, tmp_path / rel)
    for seed in (0, 1):
        log = (tmp_path / _round("train.log", "snr", seed, 2)).read_text()
        assert f"/seed{seed}/iter02] wrote" in log
    group_log = tmp_path / paths.strategy_round_file("group.log", "tiny", "digits", "snes", 0)
    lines = [ln for ln in group_log.read_text().splitlines() if ln.startswith("member ")]
    assert len(lines) == 6 and "member 6/6" in lines[-1]
    assert "random/seed0/iter00" in lines[0]  # the round-0 donor runs before its copies


METHODS = ("random", "magnitude", "snr")  # the tiny config's


@pytest.mark.parametrize(
    ("group_chains", "expected"),
    [
        ("none", {f"chain_tiny_digits_snes_{m}_seed{s}": 3 for m in METHODS for s in (0, 1)}),
        ("seeds", {f"chains_tiny_digits_snes_{m}": 3 for m in METHODS}),
        ("seeds_and_methods", {"chains_tiny_digits_snes": 3}),
    ],
)
def test_the_chain_profile_makes_every_round_of_a_group_of_chains_one_job(
    tmp_path, group_chains, expected
):
    """profiles/slurm-chain groups rule `train` into one job per chain; with
    resources.group_chains the group rules follow: one job holds every round of its set of
    chains (the random chains' rounds, which do not depend on each other, included: the
    profile's group-components), and the weight statistics of a (task, strategy) are one
    job. A dry run shows Snakemake's group jobs with the profile's groups on the local
    executor; without them there are none (profiles/slurm)."""
    from conftest import _CACHE, TINY_CONFIG

    profile = yaml.safe_load((ROOT / "profiles" / "slurm-chain" / "config.yaml").read_text())
    grouping = [
        "--groups", *(f"{rule}={group}" for rule, group in profile["groups"].items()),
        "--group-components",
        *(f"{group}={n}" for group, n in profile["group-components"].items()),
    ]  # fmt: skip
    resources = {**TINY_CONFIG["resources"], "group_chains": group_chains}
    write_config(tmp_path, {**TINY_CONFIG, "resources": resources}, _CACHE)
    # the table needs every round; the snr chains' weight statistics (the tiny config's
    # analyses) are the profile's other group: both seeds' two statistics in one job
    expected = {**expected, "stats_tiny_digits_snes": 4}
    targets = [paths.experiment_file("accuracy_table.txt", "tiny")] + [
        paths.chain_analysis(f"{stat}.h5", "tiny", "digits", "snes", "snr", seed)
        for stat in ("snr_magnitude", "layerwise")
        for seed in (0, 1)
    ]
    out = snakemake(tmp_path, "-n", *targets, *grouping).stdout
    heads = re.findall(r"Group job (\S+) \(jobs in lexicogr\. order\):", out)
    assert sorted(heads) == sorted(expected), heads
    blocks = re.split(r"Group job \S+ \(jobs in lexicogr\. order\):", out)[1:]
    for name, block in zip(heads, blocks, strict=True):
        # a group's jobs: one `rule …:` line each before the next group (jobs outside any
        # group, init and the table, are neither rounds nor statistics)
        rules = re.findall(r"^\s+rule (\w+):", block.split("Job stats")[0], re.MULTILINE)
        mine = [r for r in rules if r.startswith(("train", "weight_statistics"))]
        assert len(mine) == expected[name], (name, rules)
    # a chain job that copied its donor's round 0 would wait for the donor's whole chain:
    # under chain jobs only a job holding both copies (seeds_and_methods) copies
    commands = snakemake(tmp_path, "-n", "-p", *targets, *grouping).stdout
    copies = ("round0-from" in commands) or ("round0_from" in commands)
    assert copies == (group_chains == "seeds_and_methods"), group_chains
    plain = snakemake(tmp_path, "-n", "-p", *targets).stdout
    assert "Group job" not in plain
    assert ("round0-from" in plain) or ("round0_from" in plain)  # shared without chain jobs


def test_a_failed_group_job_keeps_the_rounds_it_finished(tmp_path):
    """One member's failure (here seed 1's θ0, unreadable) fails its group job; the rounds the
    job had finished before it stay (Snakemake deleted them before profiles/default set
    keep-incomplete), and the rerun after the fix keeps them instead of training again."""
    from conftest import _CACHE, TINY_CONFIG

    cfg = {**TINY_CONFIG, "methods": ["random"], "resources": {**TINY_CONFIG["resources"],
           "group_chains": "seeds"}}  # fmt: skip
    write_config(tmp_path, cfg, _CACHE)
    inits = [paths.init(exp="tiny", task="digits", seed=k) for k in (0, 1)]
    snakemake(tmp_path, *inits)
    bad = tmp_path / inits[1]
    good = bad.read_bytes()
    stat = bad.stat()
    bad.write_bytes(good[:1000])  # truncated, with the finished file's mtime
    os.utime(bad, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    rounds = [_round("trained.h5", "random", k, 0) for k in (0, 1)]
    failed = subprocess.run(snakemake_cmd(tmp_path, *rounds), capture_output=True, text=True,
                            env=local_env(), timeout=900, check=False)  # fmt: skip
    assert failed.returncode != 0
    finished = tmp_path / rounds[0]
    assert finished.exists(), (failed.stdout + failed.stderr)[-3000:]
    before = finished.read_bytes()
    bad.write_bytes(good)
    os.utime(bad, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    snakemake(tmp_path, *rounds)
    assert finished.read_bytes() == before  # kept, not trained again (Snakemake touches it)
    log = (finished.parent / "train.log").read_text()
    assert "finished by an earlier run" in log
    assert (tmp_path / rounds[1]).exists()
    # After a settings change both rounds are trained again, and seed 1 fails: Snakemake
    # copied its backups of the earlier rounds back over the failed job's outputs, which
    # undid seed 0's new round, with a fresh time that kept the next run from training it
    # again. Seed 0's new round (30 generations) now stays. (Seed 1's old round, which the
    # job did not write, is Snakemake's to put back; the reports refuse it as made from
    # other settings.)
    write_config(tmp_path, {**cfg, "es": {**cfg["es"], "num_generations": 30}}, _CACHE)
    bad.write_bytes(good[:1000])
    os.utime(bad, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    failed = subprocess.run(snakemake_cmd(tmp_path, *rounds), capture_output=True, text=True,
                            env=local_env(), timeout=900, check=False)  # fmt: skip
    assert failed.returncode != 0
    assert finished.read_bytes() != before, (failed.stdout + failed.stderr)[-3000:]
    assert not (tmp_path / ".snakemake" / "backups" / rounds[0]).exists()
    log = (finished.parent / "train.log").read_text()
    assert "gen 30/30" in log and f"wrote {rounds[0]}" in log
    with h5py.File(finished) as f:
        assert f["curves/best_fitness"].shape == (30,)


@pytest.mark.parametrize(
    ("extra", "train_minutes", "transfer_minutes"),
    [
        ({}, 10 * 6, 10 * 2),  # runtime × chains: 3 methods × 2 seeds; a transfer: 2 seeds
        ({"group_runtime": 25}, 25, 25),  # a vmapped group on a GPU: its measured time
    ],
)
def test_a_group_job_asks_runtime_per_chain_unless_group_runtime_is_set(
    tmp_path, extra, train_minutes, transfer_minutes
):
    """What a group job asks of SLURM: `runtime` per chain when its chains run one after the
    other (sequential), or resources.group_runtime where the config sets it (a vmapped group
    runs its chains at once; runtime × chains would over-ask by the group's size)."""
    from conftest import _CACHE, TINY_CONFIG

    resources = {**TINY_CONFIG["resources"], "group_chains": "seeds_and_methods", **extra}
    cfg = {
        **TINY_CONFIG,
        "resources": resources,
        "gd": {"gd_adam": {"lr": 0.001, "batch_size": 64, "epochs": 1}},
        "transfer": [
            {
                "name": "snes_to_adam",
                "source": {"task": "digits", "strategy": "snes", "method": "magnitude"},
                "target": {"task": "digits", "strategy": "gd_adam"},
            }
        ],
    }
    write_config(tmp_path, cfg, _CACHE)
    out = snakemake(tmp_path, "-n").stdout
    asked = {}
    for block in re.split(r"\n(?=(?:local)?rule )", out):
        rule = re.match(r"(?:local)?rule (\w+):", block)
        runtime = re.search(r"\bruntime=(\d+)", block)
        if rule and runtime:
            asked.setdefault(rule.group(1), set()).add(int(runtime.group(1)))
    assert asked["train_pairs_digits_snes"] == {train_minutes}, asked
    assert asked["transfer_seeds"] == {transfer_minutes}, asked


def test_a_config_file_with_a_key_given_twice_is_refused(tmp_path):
    """Snakemake's own YAML loader keeps the last of two equal keys; the workflow reads its
    config files again with the project's loader, which names both lines."""
    from conftest import _CACHE, TINY_CONFIG

    write_config(tmp_path, TINY_CONFIG, _CACHE)
    path = tmp_path / "config" / "config.yaml"
    path.write_text(path.read_text() + "seeds:\n- 7\n")
    proc = subprocess.run(
        snakemake_cmd(tmp_path, "-n"), capture_output=True, text=True, env=local_env(), timeout=300,
        check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "the key 'seeds' is given twice in one mapping" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()
    # a refusal is its message alone, as check-config prints it: no stack frames under it
    assert 'File "' not in proc.stdout + proc.stderr
    write_config(tmp_path, {**TINY_CONFIG, "rounds": 0}, _CACHE)
    proc = subprocess.run(
        snakemake_cmd(tmp_path, "-n"), capture_output=True, text=True, env=local_env(), timeout=300,
        check=False,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "ConfigError: config key rounds: 0 is less than" in out
    assert 'File "' not in out and "Traceback" not in out
