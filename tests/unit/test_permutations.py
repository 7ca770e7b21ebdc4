"""The permutation controls: per-layer counts kept, different from the magnitude ticket, the
surviving θ0 values kept as a multiset by both (weight_permuted at the kept positions,
mask_permuted moving each value with its mask entry), biases
untouched, keys explicit; and through the CLI, mask.h5 carries theta_start and train starts
from m ⊙ theta_start."""

import json

import jax
import numpy as np
import pytest

from evotickets import cli, pruning
from evotickets.artifacts import group, read_artifact
from evotickets.config import ConfigError, chain_settings, validate_config
from evotickets.keys import chain_key, round_key
from evotickets.networks import init_params, layer_table, prunable_vector, to_vector
from evotickets.permutations import (
    draw_permutations,
    permute_mask,
    permute_weights,
    permute_with_mask,
)
from evotickets.strategies import make_strategy
from evotickets.tasks import make_task
from evotickets.train.es import run_round


@pytest.fixture(scope="module")
def ticket():
    """θ0 of the digits CNN and its magnitude mask at round 3 (51.2 % kept)."""
    theta = init_params("cnn_small", (8, 8, 1), jax.random.key(0))
    table = layer_table(theta)
    theta0, prunable = to_vector(theta, table), prunable_vector(table)
    keep = pruning.remaining_count(int(prunable.sum()), 0.2, 3)
    mag = pruning.prune_to_count(np.abs(theta0), np.ones_like(prunable), prunable, keep).mask
    return table, theta0, prunable, mag


def _segments(table, vec):
    return {e.name: vec[e.offset : e.offset + e.size] for e in table}


def test_weight_permuted_shuffles_surviving_values_within_each_layer(ticket):
    table, theta0, _, mag = ticket
    rk = round_key(chain_key(0, "digits", "snes"), 3)
    perms = draw_permutations("weight_permuted", mag, table, rk)
    start = permute_weights(mag, theta0, table, perms)
    before, after, masks = _segments(table, theta0), _segments(table, start), _segments(table, mag)
    moved = 0
    for e in table:
        m = masks[e.name]
        if not e.prunable:  # biases untouched
            np.testing.assert_array_equal(after[e.name], before[e.name])
            continue
        # the same multiset of surviving θ0 values in the layer, at the same kept positions
        np.testing.assert_array_equal(np.sort(after[e.name][m]), np.sort(before[e.name][m]))
        np.testing.assert_array_equal(after[e.name][~m], before[e.name][~m])
        moved += int((after[e.name][m] != before[e.name][m]).sum())
        assert (after[e.name][m] != before[e.name][m]).mean() > 0.9, e.name
    assert moved > 900
    # no longer a magnitude ticket: the kept positions no longer hold the largest values
    assert not np.array_equal(np.abs(start) * mag, np.abs(theta0) * mag)


def test_mask_permuted_keeps_layer_counts_and_moves_the_kept_positions(ticket):
    table, _, prunable, mag = ticket
    rk = round_key(chain_key(0, "digits", "snes"), 3)
    new = permute_mask(mag, table, draw_permutations("mask_permuted", mag, table, rk))
    assert pruning.layer_counts(new, table) == pruning.layer_counts(mag, table)
    assert np.all(new[~prunable])  # biases stay kept
    for e in table:
        if e.prunable:
            a, b = _segments(table, mag)[e.name], _segments(table, new)[e.name]
            # a uniform shuffle of k kept among n moves about 2k(n−k)/n entries
            k, n = int(a.sum()), e.size
            assert (a != b).sum() > 0.5 * 2 * k * (n - k) / n > 5, e.name
    # A row shuffle (the study's bug) would keep the multiset of per-row kept counts.
    dense = next(e for e in table if e.name == "Dense_0/kernel")
    rows = _segments(table, new)[dense.name].reshape(dense.shape).sum(axis=1)
    src_rows = _segments(table, mag)[dense.name].reshape(dense.shape).sum(axis=1)
    assert sorted(rows) != sorted(src_rows)


def test_mask_permuted_starts_from_the_tickets_surviving_values(ticket):
    """The decomposition's second step (weight_permuted − mask_permuted) is what the mask's
    placement adds only if both controls start from the same surviving θ0 values. Each value
    moves with its mask entry: every layer's kept values are the magnitude ticket's, as a
    multiset, not the θ0 values that happened to sit at the new positions (smaller, since
    a magnitude mask keeps large |θ0|: the earlier definition)."""
    table, theta0, _, mag = ticket
    rk = round_key(chain_key(0, "digits", "snes"), 3)
    perms = draw_permutations("mask_permuted", mag, table, rk)
    new, start = permute_mask(mag, table, perms), permute_with_mask(theta0, table, perms)
    masks, news = _segments(table, mag), _segments(table, new)
    before, after = _segments(table, theta0), _segments(table, start)
    for e in table:
        if not e.prunable:
            np.testing.assert_array_equal(after[e.name], before[e.name])
            continue
        kept_values = np.sort(before[e.name][masks[e.name]])
        np.testing.assert_array_equal(np.sort(after[e.name][news[e.name]]), kept_values)
    in_place = np.abs(theta0[new & ~mag]).mean()  # what the earlier definition started from
    assert np.abs(start[new & ~mag]).mean() > 1.5 * in_place


def test_permutations_come_from_the_key(ticket):
    table, _, _, mag = ticket
    rk = round_key(chain_key(0, "digits", "snes"), 3)
    a = draw_permutations("mask_permuted", mag, table, rk)
    b = draw_permutations("mask_permuted", mag, table, rk)
    c = draw_permutations("mask_permuted", mag, table, round_key(chain_key(1, "digits", "snes"), 3))
    d = draw_permutations("weight_permuted", mag, table, rk)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
        assert not np.array_equal(a[name], c[name])
        assert d[name].size == _segments(table, mag)[name].sum()  # of the kept entries only
    with pytest.raises(ValueError, match="not a permutation control"):
        draw_permutations("magnitude", mag, table, rk)
    # each tensor and each control draws its own shuffle: two tensors of one size (or the two
    # controls of one tensor) shuffled alike would move their weights in lockstep
    from evotickets.keys import permutation, permutation_key

    def shuffle(method, tensor):
        return permutation(permutation_key(rk, method, tensor), 64)

    first = shuffle("mask_permuted", "Conv_0/kernel")
    assert not np.array_equal(first, shuffle("mask_permuted", "Conv_1/kernel"))
    assert not np.array_equal(first, shuffle("weight_permuted", "Conv_0/kernel"))
    np.testing.assert_array_equal(first, shuffle("mask_permuted", "Conv_0/kernel"))


def test_each_tensor_draws_with_its_own_key(ticket, monkeypatch):
    """draw_permutations asks keys.permutation_key for each prunable tensor by its own name
    and the control's: a constant name there would shuffle tensors of one size alike."""
    from evotickets import keys

    table, _, _, mag = ticket
    rk = round_key(chain_key(0, "digits", "snes"), 3)
    asked, original = [], keys.permutation_key
    monkeypatch.setattr(keys, "permutation_key", lambda *a: asked.append(a[1:]) or original(*a))
    drawn = draw_permutations("weight_permuted", mag, table, rk)
    assert asked == [("weight_permuted", name) for name in drawn]
    assert set(drawn) == {e.name for e in table if e.prunable}


def test_the_two_controls_shuffle_with_keys_of_their_own(ticket):
    """On a dense mask both controls permute every entry of a tensor: drawn from one key,
    their shuffles would be the same permutation, the two controls' draws tied together."""
    table, _, prunable, _ = ticket
    rk = round_key(chain_key(0, "digits", "snes"), 3)
    dense = np.ones_like(prunable)
    a = draw_permutations("weight_permuted", dense, table, rk)
    b = draw_permutations("mask_permuted", dense, table, rk)
    assert all(not np.array_equal(a[name], b[name]) for name in a)


def test_permutation_controls_need_magnitude_in_the_config(tiny_config):
    tiny_config["methods"] = ["random", "weight_permuted"]
    with pytest.raises(ConfigError, match="must also list magnitude"):
        validate_config(tiny_config)


def _run(argv):
    assert cli.main(argv) == 0, argv


def test_cli_weight_permuted_round_trains_from_the_permuted_start(tmp_path, tiny_config, capsys):
    """mask reads the magnitude mask of the round; train starts from m ⊙ theta_start."""
    tiny_config["methods"] = ["magnitude", "weight_permuted", "mask_permuted"]
    tiny_config["es"]["num_generations"] = 4
    cfg = validate_config(tiny_config)
    st = {m: chain_settings(cfg, "digits", "snes", m, 0) for m in cfg["methods"]}
    init = {"task": "digits", "network": "cnn_small", "prune_output_layer": True, "seed": 0}
    p = {k: str(tmp_path / f"{k}.h5") for k in ("init", "mag", "wp", "mp", "t_wp")}
    _run(["init", "--settings", json.dumps(init), "--out", p["init"]])
    base = ["--round", "0", "--init", p["init"]]
    _run(["mask", "--settings", json.dumps(st["magnitude"]), *base, "--out", p["mag"]])
    for m, key in (("weight_permuted", "wp"), ("mask_permuted", "mp")):
        _run(
            ["mask", "--settings", json.dumps(st[m]), *base]
            + ["--source-mask", p["mag"], "--out", p[key]]
        )
    wp_arrays, wp_attrs = read_artifact(p["wp"], "mask")
    _, mp_attrs = read_artifact(p["mp"], "mask")
    assert wp_attrs["theta_start"] == "theta_start" and wp_attrs["source_mask"] == p["mag"]
    assert mp_attrs["theta_start"] == "theta_start" and mp_attrs["source_mask"] == p["mag"]
    init_arrays, _ = read_artifact(p["init"], "init")
    table = layer_table(group(init_arrays, "params"))
    theta0 = to_vector(group(init_arrays, "params"), table)
    start = to_vector(group(wp_arrays, "theta_start"), table)
    assert not np.array_equal(start, theta0)  # round 0 is dense: every weight is shuffled
    np.testing.assert_array_equal(np.sort(start), np.sort(theta0))

    _run(
        ["train", "--settings", json.dumps(st["weight_permuted"]), *base]
        + ["--mask", p["wp"], "--out", p["t_wp"]]
    )
    trained = to_vector(group(read_artifact(p["t_wp"], "trained")[0], "params"), table)
    mask = to_vector(group(wp_arrays, "mask"), table).astype(bool)
    task = make_task("digits", st["weight_permuted"]["task_config"], table)
    strat = make_strategy("snes", int(mask.sum()), st["weight_permuted"]["strategy_config"])
    rk = round_key(chain_key(0, "digits", "snes"), 0)
    expect = run_round(task, strat, start * mask, mask, rk, 4, 10, log=lambda m: None)
    np.testing.assert_array_equal(trained, expect.theta)

    # a source that is not the magnitude mask of the same chain is refused
    rc = cli.main(
        ["mask", "--settings", json.dumps(st["mask_permuted"]), *base]
        + ["--source-mask", p["mp"], "--out", str(tmp_path / "bad.h5")]
    )
    assert rc == 2
    # ... nor the magnitude mask of another round (round 1's control built from round 0's
    # mask, at round 0's sparsity), nor one of other settings (another chain's ticket)
    capsys.readouterr()
    round1 = ["--round", "1", "--init", p["init"], "--source-mask", p["mag"]]
    rc = cli.main(["mask", "--settings", json.dumps(st["mask_permuted"]), *round1,
                   "--out", str(tmp_path / "bad.h5")])  # fmt: skip
    assert rc == 2 and "needs the magnitude mask of round 1" in capsys.readouterr().err
    other = dict(st["magnitude"], prune_fraction=0.5)
    p["other"] = str(tmp_path / "other.h5")
    _run(["mask", "--settings", json.dumps(other), *base, "--out", p["other"]])
    rc = cli.main(["mask", "--settings", json.dumps(st["mask_permuted"]), *base,
                   "--source-mask", p["other"], "--out", str(tmp_path / "bad.h5")])  # fmt: skip
    assert rc == 2 and "made from other settings" in capsys.readouterr().err
    assert not (tmp_path / "bad.h5").exists()
