"""Task entries that run a library task under another name (``task:``), the way one experiment
compares init schemes (Fig. 9): config validation, θ0, the results dataset's coordinates and
the figure built from them."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import xarray as xr

from evotickets.config import (
    ConfigError,
    chain_settings,
    chains,
    digest,
    init_settings,
    library_task,
    validate_config,
)
from evotickets.keys import init_key
from evotickets.tasks import init_theta, make_task


@pytest.fixture
def alias_config(tiny_config) -> dict:
    tiny_config["tasks"]["digits_he"] = {
        "task": "digits",
        "init": "he_normal",
        "network": "cnn_small",
        "batch_size": 64,
        "methods": ["magnitude", "snr"],
    }
    return validate_config(tiny_config)


def test_alias_entry_is_its_own_chain_and_names_its_library_task(alias_config):
    assert library_task(alias_config, "digits_he") == "digits"
    assert library_task(alias_config, "digits") == "digits"
    alias_chains = [c for c in chains(alias_config) if c[0] == "digits_he"]
    assert {c[2] for c in alias_chains} == {"magnitude", "snr"}
    assert len(alias_chains) == 2 * len(alias_config["seeds"])
    settings = init_settings(alias_config, "digits_he", 0)
    assert settings["library_task"] == "digits" and settings["init"] == "he_normal"
    # a plain entry's settings do not mention an alias, so existing digests stay valid
    assert "library_task" not in init_settings(alias_config, "digits", 0)
    assert digest(settings) != digest(init_settings(alias_config, "digits", 0))
    assert chain_settings(alias_config, "digits_he", "snes", "snr", 0)["task_config"]["task"] == (
        "digits"
    )


@pytest.mark.parametrize(
    ("block", "name", "message"),
    [
        ({"task": "digts"}, "digits_he", "did you mean 'digits'"),
        ({}, "digits_he", "add `task: <one of those>`"),
        ({"task": "digits"}, "Digits-He", "only lower-case letters"),
    ],
)
def test_bad_alias_entries_are_named(tiny_config, block, name, message):
    tiny_config["tasks"][name] = block
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate_config(tiny_config)


def test_alias_with_ant_heavy_still_requires_generalized(tiny_config):
    tiny_config["tasks"]["heavy_ant"] = {"task": "ant_heavy", "backend": "spring"}
    with pytest.raises(ConfigError, match="generalized"):
        validate_config(tiny_config)


def test_alias_theta0_uses_its_scheme_and_library_network(alias_config):
    key = init_key(0)
    plain = init_theta(init_settings(alias_config, "digits", 0), key)
    he = init_theta(init_settings(alias_config, "digits_he", 0), key)
    assert plain.keys() == he.keys()
    kernel = "Conv_0/kernel"
    assert not np.allclose(np.asarray(plain[kernel]), np.asarray(he[kernel]))
    # He normal: std sqrt(2 / fan_in) (truncated normal in flax, so allow 15 %)
    w = np.asarray(he["Dense_0/kernel"])
    assert np.std(w) == pytest.approx(np.sqrt(2.0 / w.shape[0]), rel=0.15)
    task = make_task("digits_he", {"task": "digits", "network": "cnn_small"}, table=None)
    assert task.name == "digits"


def _dataset(tasks, bases, schemes, methods) -> xr.Dataset:
    rng = np.random.default_rng(0)
    shape = (len(tasks), 1, len(methods), 2, 3)
    return xr.Dataset(
        {"test_metric": (("task", "strategy", "method", "seed", "iteration"), rng.random(shape))},
        coords={
            "task": tasks,
            "strategy": ["snes"],
            "method": methods,
            "seed": [0, 1],
            "iteration": np.arange(3),
            "remaining_fraction": ("iteration", 0.8 ** np.arange(3)),
            "metric_name": ("task", ["test accuracy"] * len(tasks)),
            "library_task": ("task", bases),
            "init_scheme": ("task", schemes),
        },
    )


def test_fig9_draws_a_heuristics_row_and_an_init_scheme_row():
    from evotickets.plots.figures import fig9

    ds = _dataset(
        ["digits", "digits_he", "digits_xavier"],
        ["digits"] * 3,
        ["flax_default", "he_normal", "xavier_normal"],
        ["random", "magnitude", "snr", "movement"],
    )
    ds["test_metric"].loc[{"task": ["digits_he", "digits_xavier"], "method": "movement"}] = np.nan
    fig = fig9(ds)
    titles = [ax.get_title() for ax in fig.axes]
    # each panel names the ES strategies its lines average (figures._strategies_with_all)
    assert titles == ["digits: heuristics (snes)", "digits: init schemes (snes)"]
    labels = fig.axes[1].get_legend_handles_labels()[1]
    assert {"flax_default snr", "he_normal snr", "xavier_normal magnitude"} <= set(labels)


def test_fig9_without_heuristics_or_schemes_says_not_in_this_experiment():
    from evotickets.plots.figures import fig9

    ds = _dataset(["digits"], ["digits"], ["flax_default"], ["random", "magnitude", "snr"])
    texts = [t.get_text() for t in fig9(ds).axes[0].texts]
    assert any("not in this experiment" in t for t in texts)


def test_collect_marks_each_task_entry_with_its_library_task_and_scheme(alias_config, tmp_path):
    from evotickets.analysis.collect import collect

    ds = collect(alias_config, tmp_path)  # nothing on disk: every run is NaN, none dropped
    assert list(ds.task.values) == ["digits", "digits_he"]
    assert list(ds.library_task.values) == ["digits", "digits"]
    assert list(ds.init_scheme.values) == ["flax_default", "he_normal"]
    assert np.isnan(ds.test_metric.sel(task="digits_he")).all()
    assert json.loads(ds.attrs["config"])["tasks"]["digits_he"]["task"] == "digits"


def test_snakemake_plans_an_alias_entry_as_its_own_chains(alias_config, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    import yaml
    from conftest import ROOT
    from workflow_helpers import local_env

    cfg = {k: v for k, v in alias_config.items() if k != "config"}
    path = tmp_path / "alias.yaml"
    path.write_text(yaml.safe_dump(cfg))
    bin_dir = str(Path(sys.executable).parent)
    proc = subprocess.run(
        [
            f"{bin_dir}/snakemake",
            "-n",
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--configfile",
            str(path),
            "--quiet",
            "rules",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=local_env(),
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    counts = {
        m[0]: int(m[1])
        for m in re.findall(r"^(\w+)\s+(\d+)\s*$", out.split("Job stats:", 1)[1], re.MULTILINE)
    }
    seeds, rounds = len(cfg["seeds"]), cfg["rounds"]
    assert counts["init"] == 2 * seeds  # digits and digits_he each have their own θ0
    assert counts["train"] == (3 + 2) * seeds * rounds  # digits: 3 methods, digits_he: 2
