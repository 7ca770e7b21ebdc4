"""Correctness smoke test of the benchmark suite (timings live in `make bench`, never here):
the FLOP count bench 1 divides by, its table/JSON writer and its subprocesses' PYTHONPATH.
(The benches' Pendulum and ant are the library's control tasks, tested against gymnax's own
step in test_control.py.)"""

import json
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import common
from bench_cnn_fitness import conv_flops


def test_paper_cnn_flops_per_generation():
    # conv1 28²·25·8, conv2 14²·200·16, dense 784·10 multiply-adds, ×2 FLOPs.
    assert conv_flops() == 2 * (28 * 28 * 25 * 8 + 14 * 14 * 200 * 16 + 784 * 10)
    assert abs(conv_flops() * 128 * 1024 / 1e9 - 207.6) < 0.1


def test_report_prints_a_table_and_writes_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(common, "OUT_DIR", tmp_path)
    rows = [{"name": "a", "x": 1.23456}, {"name": "bb", "x": 2e6}]
    common.report("t", "title", rows, ["name", "x"], extra=1)
    out = capsys.readouterr().out
    assert "title" in out and "1.235" in out and "2.000e+06" in out
    payload = json.loads(next(tmp_path.glob("t*.json")).read_text())
    assert payload["rows"] == rows and payload["extra"] == 1 and "machine" in payload


def test_run_python_puts_bench_first_and_keeps_the_callers_pythonpath(tmp_path, monkeypatch):
    # gpu_check.sh on a device machine puts the carried wheels and src/ on PYTHONPATH; a bench
    # subprocess that replaced it could not import evotickets there
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    code = "import json, sys; print(json.dumps(sys.path))"
    path = common.run_python(code)
    assert path.index(str(ROOT / "bench")) < path.index(str(tmp_path))
    monkeypatch.delenv("PYTHONPATH")
    assert str(tmp_path) not in common.run_python(code)
