"""Tests for evotickets.report: the accuracy table's numbers and its columns, for an accuracy
(four decimals, the 18-character cells `make run` prints) and for a control task's return
(two decimals, columns as wide as the widest cell)."""

from __future__ import annotations

from evotickets import report


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
        }
        for (method, t), per_seed in values.items()
        for seed, v in enumerate(per_seed)
    ]


def _table(monkeypatch, rows) -> list[str]:
    monkeypatch.setattr(report, "collect_rows", lambda results: rows)
    monkeypatch.setattr(report, "_transfer_lines", lambda results, by: [])
    return report.accuracy_table("unused").splitlines()


def test_an_accuracy_keeps_four_decimals_in_18_character_cells(monkeypatch):
    lines = _table(
        monkeypatch,
        _rows("digits", "test_accuracy", {("random", 0): [0.9, 0.8], ("magnitude", 0): [1.0]}),
    )
    assert lines[0] == "digits / snes: test_accuracy (mean ± std over seeds, n seeds)"
    assert lines[1] == "round remaining" + f"{'random':>19}" + f"{'magnitude':>19}"
    assert lines[3] == "    0    100.0%  0.8500±0.0500 (2)  1.0000±0.0000 (1)"


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
    table = lines[1:]
    assert len({len(line) for line in table}) == 1, table  # every column lines up
    cells = [line.split("% ")[1].split() for line in table[2:]]
    assert cells[0] == ["-1003.64±74.73", "(2)", "-1003.64±74.73", "(2)"]
    assert cells[1] == ["-900.00±50.00", "(2)", "-6100.38±5900.12", "(2)"]
    assert table[0].endswith(f"{'magnitude':>{len('-6100.38±5900.12 (2)')}}")
