"""Tests for evotickets.report: the accuracy table's numbers (mean ± sample sd, n − 1; a lone
seed without a "±"), and its columns, for an accuracy
(four decimals, the 18-character cells `make run` prints) and for a control task's return
(two decimals, columns as wide as the widest cell); and a transfer's section, against its
target's own tickets."""

from __future__ import annotations

import pytest

from evotickets import report
from evotickets.artifacts import ArtifactError


def _rows(task: str, metric_name: str, values: dict) -> list[dict]:
    """Rows as ``collect_rows`` returns them: values[(method, round)] = one value per seed."""
    return [
        {
            "task": task,
            "strategy": "snes",
            "method": method,
            "seed": seed,
            "round": t,
            "remaining": 0.8**t,
            "metric": v,
            "metric_name": metric_name,
            "trained_on": "cpu ×1; AMD EPYC",
        }
        for (method, t), per_seed in values.items()
        for seed, v in enumerate(per_seed)
    ]


def _table(monkeypatch, rows, chains=(), rounds=0) -> list[str]:
    """The table of ``rows`` under a stand-in config of ``chains`` and ``rounds`` (none: all
    finished, no note)."""
    monkeypatch.setattr(report, "collect_rows", lambda results, cfg=None, reading=None: rows)
    monkeypatch.setattr(report, "_transfer_lines", lambda results, by, cfg=None, reading=None: [])
    monkeypatch.setattr(report, "chains", lambda cfg: list(chains))
    return report.accuracy_table("unused", cfg={"rounds": rounds}).splitlines()


def test_an_accuracy_keeps_four_decimals_in_18_character_cells(monkeypatch):
    lines = _table(
        monkeypatch,
        _rows("digits", "test_accuracy", {("random", 0): [0.9, 0.8], ("magnitude", 0): [1.0]}),
    )
    assert lines[0] == "digits / snes: test_accuracy (mean ± sd over seeds, n seeds)"
    assert lines[1] == "round remaining" + f"{'random':>19}" + f"{'magnitude':>19}"
    assert lines[3] == "    0    100.0%  0.8500±0.0707 (2)         1.0000 (1)"
    # the machine that trained the rounds: their last bits depend on it (evotickets.host)
    assert lines[-1] == "trained on: cpu ×1; AMD EPYC (3 rounds)"


def test_a_nan_metric_is_counted_beside_the_mean_not_in_it(monkeypatch):
    """One seed's NaN made the cell nan±nan (3) and, through np.max, the whole section two
    decimals: the mean and n are over the finite seeds, the NaN is counted apart."""
    nan = float("nan")
    lines = _table(monkeypatch, _rows("digits", "test_accuracy", {("snr", 0): [0.9, 0.8, nan]}))
    assert "0.8500±0.0707 (2, 1 NaN)" in lines[3]


def test_a_return_has_two_decimals_and_columns_as_wide_as_its_widest_cell(monkeypatch):
    lines = _table(
        monkeypatch,
        _rows(
            "pendulum",
            "test_return",
            {
                ("random", 0): [-1078.37, -928.91],
                ("magnitude", 0): [-1078.37, -928.91],
                ("random", 1): [-950.0, -850.0],
                ("magnitude", 1): [-12000.5, -200.25],
            },
        ),
    )
    table, machine = lines[1:-2], lines[-2:]  # the table; a blank line and its machine
    assert machine == ["", "trained on: cpu ×1; AMD EPYC (8 rounds)"]
    assert len({len(line) for line in table}) == 1, table  # every column lines up
    cells = [line.split("% ")[1].split() for line in table[2:]]
    assert cells[0] == ["-1003.64±105.68", "(2)", "-1003.64±105.68", "(2)"]
    assert cells[1] == ["-900.00±70.71", "(2)", "-6100.38±8344.04", "(2)"]
    assert table[0].endswith(f"{'magnitude':>{len('-6100.38±8344.04 (2)')}}")


def test_each_section_has_its_own_metric_decimals_and_each_line_its_own_round(monkeypatch):
    """An accuracy section beside a return's keeps its four decimals and its metric's name
    (decimals over all rows, or the first row's name, passed), and each line shows its own
    round's remaining fraction (the first round's on every line passed)."""
    rows = _rows("digits", "test_accuracy", {("random", 0): [0.9, 0.8], ("random", 1): [0.7]})
    rows += _rows("pendulum", "test_return", {("random", 0): [-1000.0, -900.0]})
    lines = _table(monkeypatch, rows)
    assert lines[0] == "digits / snes: test_accuracy (mean ± sd over seeds, n seeds)"
    assert lines[3].startswith("    0    100.0%") and "0.8500±0.0707 (2)" in lines[3]
    assert lines[4].startswith("    1     80.0%") and "0.7000 (1)" in lines[4]
    assert "pendulum / snes: test_return (mean ± sd over seeds, n seeds)" in lines
    assert any("-950.00±70.71 (2)" in line for line in lines)


def test_a_run_still_going_says_how_many_chain_rounds_are_finished(monkeypatch):
    rows = _rows("digits", "test_accuracy", {("random", 0): [0.9]})
    lines = _table(monkeypatch, rows, chains=[("digits", "snes", "random", 0)], rounds=2)
    assert "(1 of the 2 chain rounds this config asks for are finished; the table shows those)" in (
        lines
    )


def test_an_infinite_metric_is_counted_apart_as_a_nan_is():
    assert report.metric_cell([0.9, 0.8, float("inf")]).strip() == "0.8500±0.0707 (2, 1 NaN)"


def test_a_transfer_is_set_against_the_targets_own_tickets_and_random(monkeypatch):
    # two seeds of one transfer, rounds 0 and 1; the target (mnist/snes) has snr chains, so
    # the transferred ticket is set against snr and random (seed 1 of random missing at round 1)
    arts = [
        {
            "transfer_name": "digits_to_mnist", "transfer_kind": "mask", "round": t,
            "source_task": "digits", "source_strategy": "snes", "source_method": "magnitude",
            "target_task": "mnist", "target_strategy": "snes", "metric_name": "test_accuracy",
            "remaining_fraction": 0.8**t, "final_metric": v,
        }
        for t, per_seed in ((0, (0.9, 0.7)), (1, (0.6, 0.8)))
        for v in per_seed
    ]  # fmt: skip
    files = [
        f"r/transfer/digits_to_mnist/seed{i % 2}/iter{a['round']:02d}/trained.h5"
        for i, a in enumerate(arts)
    ]
    monkeypatch.setattr(report.glob, "glob", lambda pattern: files)
    monkeypatch.setattr(
        report, "read_artifact", lambda path, kind, **kw: ({}, arts[files.index(path)])
    )
    by = {
        ("mnist", "snes", 0, "snr"): [{"metric": 0.85}, {"metric": 0.75}],
        ("mnist", "snes", 1, "snr"): [{"metric": 0.5}, {"metric": 0.6}],
        ("mnist", "snes", 1, "random"): [{"metric": 0.4}],
    }
    lines = report._transfer_lines("unused", by)
    assert lines[0] == (
        "\ntransfer digits_to_mnist (mask): ticket of digits/snes/magnitude trained as "
        "mnist/snes: test_accuracy"
    )
    assert lines[1].split() == ["round", "remaining", "transferred", "target", "snr", "target",
                                "random"]  # fmt: skip
    assert lines[3] == "    0    100.0%  0.8000±0.1414 (2)  0.8000±0.0707 (2)" + f"{'—':>19}"
    assert lines[4] == "    1     80.0%  0.7000±0.1414 (2)  0.5500±0.0707 (2)         0.4000 (1)"
    # snr chains of the target task under another strategy are not the target's own tickets:
    # the transferred ticket is then set against the target strategy's magnitude chains
    other = {("mnist", "open_es", *k[2:]): v for k, v in by.items() if k[3] == "snr"}
    mine = {("mnist", "snes", 1, "magnitude"): [{"metric": 0.3}]}
    lines = report._transfer_lines("unused", {**other, **mine})
    assert lines[1].split()[3:5] == ["target", "magnitude"]
    assert lines[4].split()[4:] == ["0.3000", "(1)", "—"]
    # a round copied into another transfer's folder was counted there (a wrong n)
    files[0] = files[0].replace("digits_to_mnist", "b")
    with pytest.raises(ArtifactError, match="sits in the folder of transfer_name b but records"):
        report._transfer_lines("unused", by)


def test_with_the_runs_config_the_table_counts_only_its_chains(tmp_path, tiny_config):
    """After narrowing seeds, a seed the config no longer asks for stays in the folder; the
    table of the config leaves it out (it averaged it in, with its n), and a file of one of
    the config's chains made from other settings is an error naming it."""
    import pytest

    from evotickets import paths
    from evotickets.artifacts import ArtifactError, write_artifact
    from evotickets.config import chain_spec, validate_config

    cfg = validate_config(tiny_config)  # seeds 0 and 1
    root = tmp_path / "tiny"

    def trained(seed: int, metric: float, digest: str | None = None) -> None:
        path = paths.round_file("trained.h5", None, "digits", "snes", "snr", seed, 0, root=root)
        attrs = {
            "task": "digits", "strategy": "snes", "method": "snr", "seed": seed, "round": 0,
            "remaining_fraction": 1.0, "final_metric": metric, "metric_name": "test_accuracy",
        }  # fmt: skip
        own = chain_spec(cfg, "digits", "snes", "snr", seed).digest() if seed in (0, 1) else "x"
        write_artifact(path, "trained", {}, attrs, config_digest=digest or own, seed=seed)

    trained(0, 0.9), trained(1, 0.9), trained(2, 0.1)  # seed 2: an earlier config's
    assert "0.6333±0.4619 (3)" in report.accuracy_table(root)
    assert "0.9000±0.0000 (2)" in report.accuracy_table(root, cfg)
    trained(1, 0.9, digest="stale")
    with pytest.raises(ArtifactError, match=r"seed1/iter00/trained.h5 was made from other"):
        report.accuracy_table(root, cfg)


def test_collect_reads_the_rows_of_an_analysis_within_the_configs_rounds():
    """An analysis made while the config asked for more rounds: its rows of the config's
    rounds are read, an LMC pair with an end past them is left out."""
    import numpy as np

    from evotickets.analysis.collect import _config_rounds

    lmc = {"round_left": np.array([0, 1, 2]), "round_right": np.array([1, 2, 3])}
    assert _config_rounds(lmc, 3, "round_left", "round_right") == [(0, 0), (1, 1)]
    assert _config_rounds(lmc, 4, "round_left", "round_right") == [(0, 0), (1, 1), (2, 2)]
    older = {"round_left": np.array([0, 1, 2])}  # before round_right was written
    assert _config_rounds(older, 3, "round_left", "round_right") == [(0, 0), (1, 1), (2, 2)]
    assert _config_rounds({"round": np.array([0, 1, 2, 3])}, 2) == [(0, 0), (1, 1)]


def test_a_summary_whose_metric_is_on_other_dims_is_refused(tmp_path):
    """A summary.nc written by other code (its metric on other dims) is named, not read
    as if its axes were ours."""
    import numpy as np
    import xarray as xr

    from evotickets.analysis.collect import save
    from evotickets.commands import reporting
    from evotickets.names import CHAIN_DIMS

    path = tmp_path / "summary.nc"
    ds = xr.Dataset(
        {"test_metric": (CHAIN_DIMS[::-1], np.full((1,) * 5, 0.9))},
        coords={"task": ["digits"], "strategy": ["snes"], "method": ["random"], "seed": [0],
                "iteration": [0], "remaining_fraction": ("iteration", [1.0])},
    )  # fmt: skip
    save(ds, path)
    with pytest.raises(ArtifactError, match=r"not a whole summary.nc \(test_metric on"):
        reporting.open_summary(path)
