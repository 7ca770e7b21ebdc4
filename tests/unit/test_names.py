"""evotickets.names is the one owner of the registry names, and it (with the config) needs no
JAX: Snakemake builds the DAG of the paper grid without importing JAX, evosax, flax or optax."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from evotickets import names
from evotickets.config import SCHEMA_PATH, ConfigError, validate_config

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("jax", "jaxlib", "evosax", "flax", "optax", "gymnax", "brax")


def test_config_and_names_import_no_heavy_library():
    code = (
        "import sys, evotickets.config, evotickets.names; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# The paper grid's dry run with JAX unimportable: tests/unit/test_config.py
# (test_snakemake_dry_run_of_paper_grid), which also checks its job counts.


def test_no_registry_name_list_is_repeated_in_the_schema():
    """Adding a method or an analysis edits evotickets.names only: the schema holds no enum of
    them (the config's did-you-mean check against names is the one gate)."""
    text = Path(SCHEMA_PATH).read_text()
    for listed in (names.METHODS, names.ANALYSES, names.STRATEGIES):
        assert f"[{', '.join(listed)}]" not in text
    schema = yaml.safe_load(text)
    assert "enum" not in schema["properties"]["methods"]["items"]


def test_the_schemas_defaults_and_choices_are_the_codes():
    """The schema gives the config's defaults and choices (Snakemake's `validate` fills its
    defaults in too), and the code has its own copies: the GD trainers' defaults, and the
    lists each option's implementation accepts. A default in one and not the other changes
    every digest of its chains, or leaves a choice the schema lets through unimplemented."""
    from evotickets.analysis.landscape import DIRECTION_NORMS
    from evotickets.networks import KERNEL_INITS, NETWORKS
    from evotickets.strategies.ars import OPTIMIZERS
    from evotickets.strategies.sep_cma_es import COVARIANCE_RATES
    from evotickets.strategies.snes import WEIGHT_FORMS
    from evotickets.tasks.data import KMNIST_SPLITS
    from evotickets.train.ppo_settings import LR_SCHEDULES, PPO_OPTIONAL_KEYS, TIME_LIMITS

    props = yaml.safe_load(Path(SCHEMA_PATH).read_text())["properties"]

    def defaults(block: dict) -> dict:
        return {k: v["default"] for k, v in block["properties"].items() if "default" in v}

    for gd, block in props["gd"]["properties"].items():
        assert defaults(block) == names.GD_STRATEGIES[gd], gd
        assert set(block["properties"]) - set(defaults(block)) == set(names.GD_OPTIONAL_KEYS[gd])
    assert set(names.GD_OPTIONAL_KEYS["gd_ppo"]) == set(PPO_OPTIONAL_KEYS)
    task = props["tasks"]["additionalProperties"]["properties"]
    strategy = props["strategies"]["additionalProperties"]["properties"]
    ppo = props["gd"]["properties"]["gd_ppo"]["properties"]
    choices = {
        "network": (task["network"], {*NETWORKS, "mlp"}),  # the CNNs, and control's policy
        "init": (task["init"], KERNEL_INITS),
        "policy_bias_init": (task["policy_bias_init"], names.POLICY_BIAS_INITS),
        "policy_output": (task["policy_output"], names.POLICY_OUTPUTS),
        "kmnist_split": (task["kmnist_split"], KMNIST_SPLITS),
        "rewind_budget": (props["rewind_budget"], names.REWIND_BUDGETS),
        "tasks.<t>.rewind_budget": (task["rewind_budget"], names.REWIND_BUDGETS),
        "covariance_rate": (strategy["covariance_rate"], COVARIANCE_RATES),
        "temperature_weights": (strategy["temperature_weights"], WEIGHT_FORMS),
        "optimizer": (strategy["optimizer"], OPTIMIZERS),
        "lr_schedule": (ppo["lr_schedule"], LR_SCHEDULES),
        "time_limit": (ppo["time_limit"], TIME_LIMITS),
        "group_program": (props["resources"]["properties"]["group_program"], names.GROUP_PROGRAMS),
        "direction_norm": (
            props["analyses"]["properties"]["landscape"]["properties"]["direction_norm"],
            DIRECTION_NORMS,
        ),
    }
    for key, (spec, code) in choices.items():
        assert set(spec["enum"]) == set(code), key
    assert props["rewind_budget"]["default"] == names.DEFAULT_REWIND_BUDGET
    source = props["transfer"]["items"]["properties"]["source"]["properties"]
    assert source["method"]["default"] == names.TRANSFER_SOURCE_METHOD
    # names' copies of implementations' names (names imports no JAX, so it cannot import them)
    from evotickets.networks import POLICY_BIAS_INITIALIZERS

    assert set(names.POLICY_BIAS_INITS) == set(POLICY_BIAS_INITIALIZERS)


def test_every_name_has_its_implementation():
    from evotickets.plots.figures import FIGURES

    assert set(names.FIGURE_NAMES) == set(FIGURES)
    # `snakemake --report` needs each figure's caption (it failed for a figure without one)
    captions = {p.stem for p in (ROOT / "workflow" / "report").glob("*.rst")}
    assert set(names.FIGURE_NAMES) <= captions, set(names.FIGURE_NAMES) - captions
    from evotickets.plots.figures import CAPTIONS

    for name in names.FIGURE_NAMES:  # the report says what the figure function draws
        first = (ROOT / "workflow" / "report" / f"{name}.rst").read_text().splitlines()[0]
        assert CAPTIONS[name] in first.replace("\\|", "|"), name  # |θ| escaped for RST
    assert set(names.SIGMA_METHODS) <= set(names.METHODS)
    assert set(names.PERMUTATION_METHODS) <= set(names.METHODS)
    assert set(names.STRATEGY_KEYS) == set(names.STRATEGIES)
    assert set(names.GD_STRATEGIES) == set(names.GD_TASK_KIND)
    assert set(names.CONTROL_TASKS) | set(names.VISION_TASKS) == set(names.TASKS)


def test_report_captions_are_valid_restructuredtext():
    """`snakemake --report` renders each caption with docutils: an unescaped |θ0| is read as
    a substitution reference, printed as an error by every `make run` and shown as one in
    report.html."""
    import io

    from docutils import nodes
    from docutils.core import publish_doctree

    quiet = {"report_level": 2, "halt_level": 5, "warning_stream": io.StringIO()}
    captions = sorted((ROOT / "workflow" / "report").glob("*.rst"))
    assert {p.stem for p in captions} >= {*names.FIGURE_NAMES, "claims", "accuracy_table"}
    for path in captions:
        tree = publish_doctree(path.read_text(), settings_overrides=quiet)
        errors = [m.astext() for m in tree.findall(nodes.problematic)]
        errors += [m.astext() for m in tree.findall(nodes.system_message)]
        assert not errors, (path.name, errors)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"strategy_methods": {"snes": ["magnitud"]}}, "did you mean 'magnitude'"),
        ({"analyses": {"enabled": ["lmcc"]}}, "did you mean 'lmc'"),
    ],
)
def test_unknown_names_are_refused_with_a_did_you_mean(block, message):
    cfg = yaml.safe_load((ROOT / "config" / "tour.yaml").read_text())
    cfg.update(block)
    with pytest.raises(ConfigError, match=message):
        validate_config(cfg)


def test_a_figure_is_named_by_what_it_shows_or_by_its_number():
    assert names.figure_number("lmc_and_sharpness") == "fig6"
    assert names.figure_number("fig6") == "fig6"
    assert names.figure_number("pruning_families") == "pruning_families"  # beyond the paper
    shown = {*names.FIGURES_BY_NUMBER.values(), *names.FIGURES_BEYOND}
    assert len(shown) == len(names.FIGURE_NAMES)
    with pytest.raises(ValueError, match=r"fig6 \(lmc_and_sharpness\)"):
        names.figure_number("fig12")


def test_analysis_files_are_spelled_once_and_an_lmc_file_names_its_pairs():
    """names.analysis_file is what the rules write, the config's targets list and collect
    reads; LMC's file names its kind of pairs, and no other analysis takes one."""
    from evotickets.config import analysis_artifacts

    assert names.analysis_file("landscape") == "landscape.h5"
    assert names.analysis_file("lmc", "seeds", ".log") == "lmc_seeds.log"
    assert names.analysis_file("{stat}") == "{stat}.h5"  # a rule's wildcard passes through
    for bad in (("lmc",), ("landscape", "seeds"), ("lmc", "rounds")):
        with pytest.raises(ValueError, match="LMC names one of"):
            names.analysis_file(*bad)
    cfg = validate_config(yaml.safe_load((ROOT / "config" / "tour.yaml").read_text()))
    made = {Path(p).name for a in names.ANALYSES for p in analysis_artifacts(cfg, a)}
    spelled = {names.analysis_file(a) for a in names.ANALYSES if a != "lmc"}
    spelled |= {names.analysis_file("lmc", k) for k in names.LMC_KINDS}
    assert made and made <= spelled


def test_every_summary_variable_figures_and_claims_read_is_one_collect_writes():
    """Figures and claims read summary.nc's variables by name and skip what a summary lacks
    (a panel or claim row left out, or "needs …"), so a name collect renamed alone would drop
    them silently: each name they read must be one collect (or claims, for claims.nc) writes."""
    import re

    from evotickets.artifacts import LAYERWISE_ARRAYS

    src = ROOT / "src" / "evotickets"
    read = set()
    for module in ("plots/figures.py", "analysis/claims.py"):
        text = (src / module).read_text()
        read |= set(re.findall(r"\bds\.([a-z][a-z_0-9]*)\b", text))
        read |= set(re.findall(r'"([a-z][a-z_0-9]*)" (?:not )?in ds\b', text))
        read |= set(re.findall(r'\bds\["([a-z][a-z_0-9]*)"\]', text))
    import xarray as xr

    read -= set(dir(xr.Dataset))  # its methods and properties (sel, attrs, coords, …)
    assert {"test_metric", "remaining_fraction", "lmc_barrier_seeds", "rho_snr_magnitude"} <= read
    written = (src / "analysis/collect.py").read_text() + (src / "analysis/claims.py").read_text()
    made = {f"layer_{q}" for q in LAYERWISE_ARRAYS}  # collect writes them as layer_{q}
    missing = sorted(n for n in read if f'"{n}"' not in written and n not in made)
    assert missing == [], missing


def _counted(settings):
    """(prunable, all) of θ0's shapes (jax.eval_shape: nothing computed), the oracle."""
    import jax

    from evotickets.networks import layer_table
    from evotickets.tasks import init_theta

    shapes = jax.eval_shape(lambda key: init_theta(settings, key), jax.random.key(0))
    table = layer_table(shapes, bool(settings["prune_output_layer"]))
    return sum(e.size for e in table if e.prunable), sum(e.size for e in table)


def test_the_vision_networks_known_counts_are_their_shapes_counts():
    """The workflow's validation checks rounds and strategy sizes against these counts, with
    no JAX: each must be what jax.eval_shape counts of the network."""
    from evotickets.tasks import weight_counts

    covered = set()
    for task, shape in names.VISION_INPUT_SHAPE.items():
        for network in ("cnn", "cnn_small"):
            for keep_output in (True, False):
                settings = {"task": task, "network": network,
                            "prune_output_layer": keep_output, "seed": 0}  # fmt: skip
                assert weight_counts(settings) == _counted(settings), settings
                covered.add((network, shape, keep_output))
    assert {k[:2] for k in covered} == set(names.VISION_KERNEL_SIZES)
    assert set(names.VISION_WEIGHT_TOTALS) == set(names.VISION_KERNEL_SIZES)
    assert weight_counts({"task": "digits", "network": "cnn_small", "prune_output_layer": True,
                          "seed": 0}) == (1864, 1898)  # fmt: skip


def test_the_prunable_kernel_sizes_are_theta0s_kernels():
    """check-config's odds of an emptied layer read the kernels' sizes without JAX: each
    network's must be θ0's prunable kernels, in layer order, and sum to weight_counts'."""
    import jax

    from evotickets.networks import layer_table
    from evotickets.tasks import init_theta, prunable_kernel_sizes, weight_counts

    cases = [(t, {"network": n}) for t in names.VISION_INPUT_SHAPE for n in ("cnn", "cnn_small")]
    cases += [("pendulum", {"hidden": [64, 64]}), ("ant", {"hidden": [32, 32]})]
    for task, net in cases:
        for keep_output in (True, False):
            settings = {"task": task, **net, "prune_output_layer": keep_output, "seed": 0}
            shapes = jax.eval_shape(lambda key, s=settings: init_theta(s, key), jax.random.key(0))
            table = layer_table(shapes, keep_output)
            want = [e.size for e in table if e.prunable]
            assert prunable_kernel_sizes(settings) == want, settings
            assert sum(want) == weight_counts(settings)[0]


def test_the_control_tasks_io_sizes_are_their_environments():
    """θ0 of a policy and the validation's counts read the table, not the environment: it
    must be what each environment reports (brax's observation from a trace)."""
    from evotickets.tasks import make_task

    assert set(names.CONTROL_IO_SIZES) == set(names.CONTROL_TASKS)
    for name in names.CONTROL_TASKS:
        task = make_task(name, {"hidden": [4], "backend": names.ANT_HEAVY_BACKEND}, None)
        assert names.CONTROL_IO_SIZES[name] == (task.obs_dim, task.num_outputs), name


@pytest.mark.parametrize("hidden", [(64, 64), (32, 32), (5,), (7, 3, 2)])
@pytest.mark.parametrize("task", ["pendulum", "cartpole", "ant", "humanoid"])
def test_a_policys_counts_are_its_shapes_counts(task, hidden):
    """A policy's (prunable, all) from its hidden sizes and the io table, with the output
    kernel prunable or not (biases never): what θ0's shapes count."""
    from evotickets.tasks import weight_counts

    for keep_output in (True, False):
        settings = {"task": task, "network": "mlp", "prune_output_layer": keep_output,
                    "seed": 0, "hidden": hidden}  # fmt: skip
        assert weight_counts(settings) == _counted(settings), settings
    obs, out = names.CONTROL_IO_SIZES[task]
    assert weight_counts({**settings, "hidden": (8,)}) == (obs * 8, obs * 8 + 8 * out + 8 + out)
