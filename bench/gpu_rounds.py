"""The paper's MNIST SNES chain (config/paper.yaml: paper CNN, population 100, batch 1,024,
4,000 generations a round, SNR pruning, seed 0), as many rounds as fit in ``BENCH_BUDGET_S``
seconds (default 150), through the CLI verbs the workflow runs (`init`, then `round` per
round, in this one process). Writes ``gpu_rounds.json``: per round D_active, test accuracy
and seconds. Needs MNIST (``EVOTICKETS_DATA_DIR`` with mnist/); without it it says so in the
JSON and exits 0. BENCH_QUICK: 10 generations a round.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import h5py
import yaml
from common import OUT_DIR, QUICK, ROOT, work_folder


def main() -> int:
    budget = float(os.environ.get("BENCH_BUDGET_S", "150"))
    data_dir = os.environ.get("EVOTICKETS_DATA_DIR")
    out = OUT_DIR / f"gpu_rounds{'-quick' if QUICK else ''}.json"
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    if not data_dir or not (Path(data_dir) / "mnist").is_dir():
        out.write_text(json.dumps({"skipped": "no MNIST: set EVOTICKETS_DATA_DIR"}))
        print(f"skipped: no MNIST at EVOTICKETS_DATA_DIR={data_dir!r}")
        return 0
    import jax

    from evotickets import cli
    from evotickets.config import chain_settings, init_settings, validate_config

    cfg = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    cfg["data_dir"] = data_dir
    if QUICK:
        cfg["es"] = {"num_generations": 10, "log_every": 5}  # ≈ 50 s on 2 CPU cores
    cfg = validate_config(cfg)
    work = work_folder("gpu-rounds-")
    settings = json.dumps(chain_settings(cfg, "mnist", "snes", "snr", 0))
    init = work / "init.h5"
    assert cli.main(["init", "--settings", json.dumps(init_settings(cfg, "mnist", 0)),
                     "--out", str(init)]) == 0  # fmt: skip
    rows, start, t = [], time.perf_counter(), 0
    while t < int(cfg["rounds"]):
        t0 = time.perf_counter()
        argv = ["round", "--settings", settings, "--round", str(t), "--init", str(init),
                "--mask-out", str(work / f"mask{t}.h5"), "--mask-log", str(work / "mask.log"),
                "--out", str(work / f"trained{t}.h5")]  # fmt: skip
        if t:
            argv += ["--prev-trained", str(work / f"trained{t - 1}.h5")]
        if cli.main(argv) != 0:
            rows.append({"round": t, "error": "see the log above"})
            break
        with h5py.File(work / f"trained{t}.h5", "r") as f:
            rows.append({"round": t, "d_active": int(f.attrs["d_active"]),
                         "remaining": float(f.attrs["remaining_fraction"]),
                         "test_accuracy": float(f.attrs["final_metric"]),
                         "seconds": time.perf_counter() - t0})  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
        t += 1
        elapsed = time.perf_counter() - start
        if elapsed + rows[-1]["seconds"] > budget:
            break
    payload = {"device": str(jax.devices()[0]), "generations": cfg["es"]["num_generations"],
               "budget_s": budget, "rounds": rows}  # fmt: skip
    out.write_text(json.dumps(payload, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
