"""Correctness smoke test of the benchmark suite (timings live in `make bench`, never here):
the FLOP count bench 1 divides by, its table/JSON writer and its subprocesses' PYTHONPATH.
(The benches' Pendulum and ant are the library's control tasks, tested against gymnax's own
step in test_control.py.)"""

import json
import sys
from pathlib import Path

import pytest
from conftest import ROOT

BENCH = str(ROOT / "bench")
sys.path.insert(0, BENCH)

import common
from bench_cnn_fitness import conv_flops


@pytest.fixture(autouse=True, scope="module")
def _bench_modules_stay_in_this_file():
    """bench/ on sys.path for this file's tests only: its `tasks`, `common` and the rest,
    importable under top-level names, would shadow another test's imports on this worker."""
    yield
    sys.path.remove(BENCH)
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", "") or "").startswith(BENCH):
            del sys.modules[name]


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


def test_a_size_set_in_the_environment_wins_over_quick_mode(monkeypatch):
    """Four benches took quick mode's sizes whatever BENCH_POPULATION / BENCH_GENERATIONS said."""
    monkeypatch.delenv("BENCH_GENERATIONS", raising=False)
    for quick, expected in ((False, 10), (True, 2)):
        monkeypatch.setattr(common, "QUICK", quick)
        assert common.sized("BENCH_GENERATIONS", 10, 2) == expected
        monkeypatch.setenv("BENCH_GENERATIONS", "7")
        assert common.sized("BENCH_GENERATIONS", 10, 2) == 7
        monkeypatch.delenv("BENCH_GENERATIONS")


@pytest.mark.parametrize("keep", ["", "1"])
def test_a_benchs_work_folder_goes_when_it_ends_unless_kept(keep, monkeypatch):
    """Three benches left their chains' folders in /tmp after every run."""
    monkeypatch.setenv("BENCH_KEEP", keep)
    code = (
        "import json; from common import work_folder; w = work_folder('t-'); "
        "(w / 'x.h5').write_text('x'); print(json.dumps(str(w)))"
    )
    folder = Path(common.run_python(code))
    assert folder.is_dir() == bool(keep)
    if keep:
        assert (folder / "x.h5").read_text() == "x"
        import shutil

        shutil.rmtree(folder)


def test_gpu_table_renders_the_numbers_and_judges_the_targets(tmp_path, capsys):
    # what gpu_check.sh sends back, made up: bench 1 above its target, 15 chains at 9.1×
    # one chain but not bitwise, the rollouts out of time, MNIST rounds skipped
    from gpu_table import main, table_rows

    machine = {"jax": "0.11.2", "device_kind": "NVIDIA H200", "quick": False}
    cnn = {
        "devices": 1, "population": 128, "batch": 1024, "fast s/gen": 0.02,
        "fast GFLOP/s": 10380.0, "fast/peak": 0.61, "peak GFLOP/s": 17000.0,
        "peak before/after": "17000/16900", "fast/vmap": 12.0, "vmap GFLOP/s": 865.0,
        "max |Δfitness|": 4.8e-7, "form": "vmapped", "batch tile": 256,
        "batched s/gen": 0.5,
    }  # fmt: skip
    env = {"population": 256, "steps": 200, "repeats": 8, "compile s (1/2)": "9.5/nan"}
    chain = {"task": "mnist", "population": 100, "D_active": 11274, "generations": 20}
    check = {
        "nvidia_smi": "NVIDIA H200, 143771 MiB, 570.1",
        "steps": [
            {"step": "cnn_fitness", "rc": 0, "seconds": 40, "limit_s": 90},
            {"step": "chains", "rc": 0, "seconds": 80, "limit_s": 110},
            {"step": "rollouts", "rc": 124, "seconds": 80, "limit_s": 80},
            {"step": "determinism", "rc": 124, "seconds": 60, "limit_s": 60},
            {"step": "mnist_rounds", "rc": 0, "seconds": 1, "limit_s": 140},
        ],
        "results": {
            "cnn_fitness": {"machine": machine, "rows": [cnn]},
            "chains": {
                "machine": machine,
                "strategy": "snes",
                "rows": [
                    {**chain, "chains": 1, "chain-gen/s": 50.0, "vs 1 chain(s)": 1.0},
                    {**chain, "chains": 15, "chain-gen/s": 455.0, "vs 1 chain(s)": 9.1},
                ],
                "same_numbers": {"group_of_1_vs_alone_max_abs_diff": 0.0, "x": 2.5e-7},
            },
            "gpu_rounds": {"skipped": "no MNIST: set EVOTICKETS_DATA_DIR"},
            # out of time after its first pair of processes, which it had written
            "gpu_determinism": {
                "machine": machine,
                "rows": [
                    {
                        "XLA flag": "(none)",
                        "generations": 5,
                        "digests": "0a1b2c3d4e5f 9f8e7d6c5b4a",
                        "bitwise across processes": False,
                        "ms/gen": 12.34,
                    },
                ],
            },
            "rollouts": {
                "machine": machine,
                "rows": [
                    {
                        **env,
                        "env": "pendulum",
                        "1 dev steps/s": float("nan"),
                        "error": "1 device(s): ModuleNotFoundError: No module named 'seaborn'",
                    },
                    {**env, "env": "ant", "1 dev steps/s": 2.5e6},
                ],
            },
        },
    }
    rows = {(bench, what): (value, target) for bench, what, value, target in table_rows(check)}
    assert "H200" in rows[("", "machine")][0] and "JAX 0.11.2" in rows[("", "machine")][0]
    value, target = rows[("1", "paper CNN fitness, population 128 × batch 1024, 1 device(s)")]
    assert value.startswith("50.0 gen/s, 10380 GFLOP/s = 61% of") and target == "≥ 50%: met"
    value, _ = rows[("1", "same in the CPU's batched form (batch tiles of 256 images)")]
    assert value == "2.0 gen/s: the vmapped form is 25.0× faster"
    fifteen = next(v for (b, w), v in rows.items() if w.startswith("15 mnist snes"))
    assert fifteen == ("455.0 chain-gen/s = 9.10× one chain", "≥ 8×: met")
    assert rows[("8", "snes: a chain alone, in a group of 1 and in the group")][0] == (
        "differ by up to 2.5e-07"
    )
    assert rows[("rollouts", "step `rollouts`")][0].startswith("ran out of its time limit (rc 124")
    assert "skipped: no MNIST" in rows[("rounds", "paper MNIST SNES chain")][0]
    assert rows[("determinism", "step `determinism`")][0].startswith("ran out of its time")
    det = "paper MNIST SNES chain, 5 generations in two fresh processes, XLA flag (none)"
    assert rows[("repro", det)][0] == "differ (0a1b2c3d4e5f 9f8e7d6c5b4a); 12.3 ms/gen"
    # a failed environment says why instead of "nan steps/s"
    env_rows = {w.split(" env steps")[0]: v for (b, w), (v, _) in rows.items() if b == "3"}
    assert env_rows == {
        "pendulum": "failed: 1 device(s): ModuleNotFoundError: No module named 'seaborn'",
        "ant": "2,500,000 steps/s (compile 9.5 s)",
    }

    # the command line: Markdown rows whose cells hold no stray "|"
    path = tmp_path / "gpu_check.json"
    path.write_text(json.dumps(check))
    assert main([str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| bench | measurement | value | target |"
    assert all(line.replace("\\|", "").count("|") == 5 for line in lines)
    assert main([str(tmp_path / "missing.json")]) == 2


def test_gpu_wheels_carry_every_requirement_the_device_image_lacks(capsys):
    # the device machine installs the carried wheels with --no-deps and reaches no index: a
    # requirement that neither travels nor is in its image fails there, at import
    import gpu_wheels

    assert gpu_wheels.unmet() == {}
    # what the check catches: gymnax alone leaves its own requirements behind
    gaps = gpu_wheels.unmet(carried=("gymnax",))
    assert gaps["seaborn"] == ["gymnax"] and gaps["gymnasium"] == ["gymnax"]
    assert "numpy" not in gaps and "jax" not in gaps  # the image's, transitively
    # the pins are this venv's versions, one a line
    assert gpu_wheels.main() == 0
    pins = dict(line.split("==") for line in capsys.readouterr().out.split())
    assert set(pins) == set(gpu_wheels.CARRIED)
    assert pins["evosax"] == "0.3.2" and pins["gymnax"] == "1.0.1"


def test_round_times_project_the_papers_round_from_the_steady_chunks():
    import pytest
    from bench_round_times import projection

    # an ES round of 500 generations logged every 100: the first chunk holds a 4 s compile
    lines = [(0.0, "[p] D_active 4481 of 4481")]
    lines += [(4.0 + 0.01 * g, f"[p] gen {g}/500 best -1 mean -2 eta 3s") for g in (100, 200, 500)]
    lines.append((9.5, "[p] wrote trained.h5: test_return -150 in 9.5s"))
    es = projection(lines, {"es": {"num_generations": 2000}})
    assert es["unit"] == "gen" and es["units run"] == 500 and es["paper units"] == 2000
    assert es["s/unit"] == pytest.approx(0.01) and es["overhead s"] == pytest.approx(4.0)
    assert es["paper round s"] == pytest.approx(4.0 + 20.0)
    # PPO: the paper's updates from its env steps and the steps one update takes (32 × 16)
    ppo_lines = [(2.0, "[p] update 50/341 (25600 steps) train return -900.00 eta 9s"),
                 (3.0, "[p] update 100/341 (51200 steps) train return -800.00 eta 5s")]  # fmt: skip
    ppo = projection(ppo_lines, {"strategy_config": {"total_steps": 1_750_000}})
    assert ppo["paper units"] == 1_750_000 // 512 and ppo["s/unit"] == pytest.approx(0.02)
    # one epoch logged: no steady rate to project from
    gd = projection([(30.0, "[p] epoch 1/1 (468 steps of 128) loss 0.3")],
                    {"strategy_config": {"epochs": 2}})  # fmt: skip
    assert gd["unit"] == "epoch" and gd["overhead s"] == 30.0 and gd["s/unit"] != gd["s/unit"]
    with pytest.raises(ValueError, match="no progress line"):
        projection([(1.0, "nothing here")], {})


def test_gpu_table_renders_the_followup(capsys):
    # what gpu_followup.sh sends back, made up: round_times out of time after two cases
    from gpu_table import table_rows

    machine = {"jax": "0.11.2", "device_kind": "NVIDIA H200", "quick": False}
    ant = {"case": "ant_sep_cma_es", "unit": "gen", "units run": 30, "s/unit": 0.25,
           "overhead s": 41.0, "start s": 6.5, "paper units": 3000, "paper round s": 791.0,
           "metric": 812.3, "metric name": "test_return"}  # fmt: skip
    form_row = {"form": "vmap c32", "population": 128, "batch": 1024, "s/gen": 0.0112,
                "of peak": 0.154, "max |Δfitness|": 1.7e-6}  # fmt: skip
    followup = {
        "nvidia_smi": "NVIDIA H200, 143771 MiB, 580.1",
        "steps": [
            {"step": "round_times", "rc": 124, "seconds": 330, "limit_s": 330},
            {"step": "fitness_forms", "rc": 0, "seconds": 30, "limit_s": 45},
        ],
        "results": {
            "round_times": {
                "machine": machine,
                "rows": [ant, {"case": "mnist_gd_adam", "error": "ran out of its 100 s"}],
            },
            "gpu_fitness_forms": {
                "machine": machine,
                "peak_gflops": 121238.0,
                "rows": [form_row],
            },
        },
    }
    rows = {(bench, what): value for bench, what, value, _ in table_rows(followup)}
    assert rows[("round_times", "step `round_times`")].startswith("ran out of its time limit")
    what = (
        "round 0 of `ant_sep_cma_es` at config/paper.yaml's settings: 30 gen(s) run, "
        "test_return 812.3"
    )
    assert rows[("11", what)] == (
        "250.0 ms/gen (first chunk's overhead 41.0 s; start 6.5 s): the paper's 3000 gens "
        "≈ 791 s a round"
    )
    assert rows[("11", "round 0 of `mnist_gd_adam`")] == "ran out of its 100 s"
    form = rows[("forms", "paper CNN fitness, `vmap c32`, population 128 × batch 1024")]
    assert form == "11.2 ms/gen = 15.4% of peak (121238 GFLOP/s); max |Δfitness| 1.7e-06"


def test_benches_without_mnist_build_the_paper_cnn_on_random_images(monkeypatch):
    # with no MNIST at hand the benches time random images of MNIST's shape; the task must
    # still be MNIST's (its input shape), which a task named "random" was not (a KeyError)
    import tasks

    for var in ("BENCH_DATA_DIR", "EVOTICKETS_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    task, _, _ = tasks._mnist_task()
    assert task.dataset.name == "random" and task.name == "mnist"
    x_train, _ = task.train_data
    assert x_train.shape == (8192, 28, 28, 1)
