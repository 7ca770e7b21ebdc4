"""`evotickets mask` for snip and grasp on the tiny config: one score of θ0 on training
examples, so each round's mask keeps its exact count, the masks nest, no trained round is
read, and every strategy of a seed gets the same mask. Control tasks are refused."""

import json

import h5py
import numpy as np
import pytest

from evotickets import cli
from evotickets.config import ConfigError, chain_settings, init_settings, validate_config
from evotickets.settings import ChainSettings


def _mask(path) -> np.ndarray:
    with h5py.File(path) as f:
        return np.concatenate([f["mask"][k][leaf][()].ravel() for k in sorted(f["mask"])
                               for leaf in sorted(f["mask"][k])])  # fmt: skip


@pytest.fixture(scope="module")
def masks(tmp_path_factory):
    from conftest import TINY_CONFIG

    tmp = tmp_path_factory.mktemp("pai")
    cfg = dict(TINY_CONFIG, methods=["snip", "grasp"], pruning_at_init={"examples": 256})
    cfg["strategies"] = {**cfg["strategies"], "open_es": {"population_size": 16, "std_init": 0.05}}
    cfg = validate_config(cfg)
    init = tmp / "init.h5"
    assert cli.main(["init", "--settings", json.dumps(init_settings(cfg, "digits", 0)),
                     "--out", str(init)]) == 0  # fmt: skip
    out = {}
    for method in ("snip", "grasp"):
        for strategy in ("snes", "open_es"):
            s = json.dumps(chain_settings(cfg, "digits", strategy, method, 0))
            for t in (1, 2):
                path = tmp / f"{method}-{strategy}-{t}.h5"
                argv = ["mask", "--settings", s, "--round", str(t), "--init", str(init)]
                assert cli.main([*argv, "--out", str(path)]) == 0
                out[method, strategy, t] = path
    return out


@pytest.mark.parametrize("method", ["snip", "grasp"])
def test_masks_keep_exact_counts_nest_and_are_shared_by_strategies(masks, method):
    m1, m2 = _mask(masks[method, "snes", 1]), _mask(masks[method, "snes", 2])
    with h5py.File(masks[method, "snes", 1]) as f1, h5py.File(masks[method, "snes", 2]) as f2:
        # round half up of 1864 · 0.8 = 1491.2 and 1864 · 0.8² = 1192.96 (test_pruning pins 1864)
        assert (f1.attrs["kept_prunable"], f2.attrs["kept_prunable"]) == (1491, 1193)
        assert f1.attrs["num_prunable"] == 1864 and np.isfinite(f1.attrs["threshold"])
        assert f1.attrs["method"] == method
    assert not np.any(m2 & ~m1)  # nested: round 2 keeps a subset of round 1
    for t in (1, 2):
        np.testing.assert_array_equal(
            _mask(masks[method, "open_es", t]), _mask(masks[method, "snes", t])
        )


def test_snip_and_grasp_choose_different_weights(masks):
    assert not np.array_equal(_mask(masks["snip", "snes", 2]), _mask(masks["grasp", "snes", 2]))


def test_the_examples_enter_the_digest_and_other_methods_digests_do_not_change(tiny_config):
    cfg = validate_config(dict(tiny_config, methods=["snip", "magnitude"]))
    snip = chain_settings(cfg, "digits", "snes", "snip", 0)
    assert snip["method_config"] == {"examples": 1000}  # the schema's default
    plain = chain_settings(cfg, "digits", "snes", "magnitude", 0)
    assert "method_config" not in plain
    other = validate_config(dict(tiny_config, methods=["snip", "magnitude"],
                                 pruning_at_init={"examples": 256}))  # fmt: skip
    snip_256 = chain_settings(other, "digits", "snes", "snip", 0)
    assert snip_256["method_config"] == {"examples": 256}
    digest = ChainSettings.from_dict
    assert digest(snip_256).digest() != digest(snip).digest()
    assert digest(chain_settings(other, "digits", "snes", "magnitude", 0)).digest() == (
        digest(plain).digest()
    )


def test_grasp_digest_names_its_hessian_vector_and_snip_does_not(tiny_config):
    """GraSP's Hg over the kernels alone (not the biases too, as before) is part of its
    chains' settings, so grasp results of the earlier definition rerun instead of mixing."""
    cfg = validate_config(dict(tiny_config, methods=["snip", "grasp"]))
    grasp = chain_settings(cfg, "digits", "snes", "grasp", 0)
    assert grasp["method_config"] == {"examples": 1000, "hessian_vector": "kernel_gradient"}
    assert chain_settings(cfg, "digits", "snes", "snip", 0)["method_config"] == {"examples": 1000}


def test_control_tasks_refuse_pruning_at_initialisation(tiny_config):
    tiny_config["tasks"] = {"pendulum": {"max_steps": 20}}
    tiny_config["methods"] = ["magnitude", "grasp"]
    with pytest.raises(ConfigError, match=r"control task.*\['grasp'\].*tasks.pendulum.methods"):
        validate_config(tiny_config)


def test_the_mask_step_reads_its_score_data_from_the_verbs_data_dir(masks, tmp_path, monkeypatch):
    """`round --data-dir D` (and `mask --data-dir D`) scores θ0 on D's training examples, as
    training reads D: before, the mask step read the settings' folder, so a run by hand read
    or downloaded the data elsewhere and a missing-data error named the wrong folder."""
    from conftest import TINY_CONFIG

    from evotickets import tasks

    cfg = validate_config(dict(TINY_CONFIG, methods=["snip"], pruning_at_init={"examples": 64}))
    s = json.dumps(chain_settings(cfg, "digits", "snes", "snip", 0))
    init = masks["snip", "snes", 1].parent / "init.h5"
    seen = []

    def make_task(name, config, table, data_dir=None):
        seen.append(data_dir)
        raise ValueError("stop here")

    monkeypatch.setattr(tasks, "make_task", make_task)
    argv = ["--settings", s, "--round", "1", "--init", str(init), "--data-dir", str(tmp_path)]
    assert cli.main(["mask", *argv, "--out", str(tmp_path / "m.h5")]) != 0
    round_argv = ["--mask-out", str(tmp_path / "m.h5"), "--mask-log", str(tmp_path / "m.log")]
    assert cli.main(["round", *argv, *round_argv, "--out", str(tmp_path / "t.h5")]) != 0
    assert seen == [str(tmp_path), str(tmp_path)]


@pytest.mark.parametrize("method", ["snip", "grasp"])
def test_the_mask_keeps_the_best_init_scores(masks, method):
    """The verb's mask is the count's best scores of θ0 by the method's own score
    (pruning_at_init.init_scores, whose formulas tests/unit/test_pruning_at_init.py checks),
    on the chain's examples and key: counts and nesting held for a negated score too."""
    from conftest import TINY_CONFIG

    from evotickets.artifacts import artifact_vector, read_artifact
    from evotickets.keys import init_score_key
    from evotickets.networks import kernel_vector
    from evotickets.pruning import prune_to_count
    from evotickets.pruning_at_init import init_scores
    from evotickets.rounds import load_init
    from evotickets.tasks import make_task

    cfg = validate_config(dict(TINY_CONFIG, methods=[method], pruning_at_init={"examples": 256}))
    spec = ChainSettings.from_dict(chain_settings(cfg, "digits", "snes", method, 0))
    init = masks[method, "snes", 1].parent / "init.h5"
    theta0, table, prunable, _ = load_init(str(init), spec)
    task = make_task("digits", spec.task_config, table)
    score = init_scores(
        method, task, theta0, init_score_key(0, "digits"), 256, kernel_vector(table)
    )
    for t, keep in ((1, 1491), (2, 1193)):
        want = prune_to_count(np.asarray(score), np.ones_like(prunable), prunable, keep).mask
        path = masks[method, "snes", t]
        got = artifact_vector(read_artifact(path, "mask")[0], "mask", table, path, "mask")
        np.testing.assert_array_equal(got.astype(bool), want)
