"""The rows of bench/README.md's GPU table from what ``gpu_check.sh`` (or
``gpu_followup.sh``) sends back.

    python bench/gpu_table.py path/to/gpu_check.json      # prints Markdown rows
    python bench/gpu_table.py path/to/gpu_followup.json

Why a script: a lent GPU comes rarely and for minutes, and its results arrive as one JSON
of five benches' outputs; reading the numbers into the table by hand, and judging the
targets, is where a slip would go unnoticed. Each row says the step's exit status when a
step did not finish, and "met" or "missed" against the issue's targets (≥ 50 % of the fp32
matmul peak for the paper CNN's fitness; 15 grouped chains ≥ 8× the chain-generations/s of
one). Pure rendering: it runs nothing and needs neither JAX nor a GPU.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

PEAK_TARGET = 0.5  # bench 1: fitness / fp32 jnp.dot peak
VMAP_TARGET = 5.0  # bench 1: library fitness / chunked vmap(model.apply)
CHAINS_TARGET = 8.0  # bench 8: 15 grouped chains / one chain, chain-generations/s
STEP_BENCHES = {  # gpu_check.sh's step → the JSON stem its bench writes
    "cnn_fitness": "cnn_fitness",
    "chains": "chains",
    "chains_sep_cma_es": "chains_sep_cma_es",
    "rollouts": "rollouts",
    "mnist_rounds": "gpu_rounds",
    "determinism": "gpu_determinism",
    # gpu_followup.sh's
    "round_times": "round_times",
    "fitness_forms": "gpu_fitness_forms",
}


def _verdict(value: float, target: float) -> str:
    return "met" if value >= target else "missed"


def _machine(results: dict) -> dict:
    for result in results.values():
        if isinstance(result, dict) and "machine" in result:
            return result["machine"]
    return {}


def _cnn_rows(result: dict) -> list[tuple[str, str, str, str]]:
    rows = []
    for r in result["rows"]:
        size = f"population {r['population']} × batch {r['batch']}, {r['devices']} device(s)"
        rows.append(
            (
                "1",
                f"paper CNN fitness, {size}",
                (
                    f"{1 / r['fast s/gen']:.1f} gen/s, {r['fast GFLOP/s']:.0f} GFLOP/s = "
                    f"{r['fast/peak']:.0%} of the fp32 `jnp.dot` peak ({r['peak GFLOP/s']:.0f} "
                    f"GFLOP/s, before/after {r['peak before/after']})"
                ),
                f"≥ {PEAK_TARGET:.0%}: {_verdict(r['fast/peak'], PEAK_TARGET)}",
            )
        )
        rows.append(
            (
                "1",
                "same: against chunked `vmap(model.apply)`",
                (
                    f"{r['fast/vmap']:.1f}× ({r['vmap GFLOP/s']:.0f} GFLOP/s); fitnesses "
                    f"differ by ≤ {r['max |Δfitness|']:.1e}"
                ),
                f"≥ {VMAP_TARGET:.0f}×: {_verdict(r['fast/vmap'], VMAP_TARGET)}",
            )
        )
        batched = r.get("batched s/gen", float("nan"))
        if not math.isnan(batched):  # measured on an accelerator only
            rows.append(
                (
                    "1",
                    f"same in the CPU's batched form (batch tiles of {r['batch tile']} images)",
                    (
                        f"{1 / batched:.1f} gen/s: the {r['form']} form is "
                        f"{batched / r['fast s/gen']:.1f}× faster"
                    ),
                    "",
                )
            )
    return rows


def _chain_rows(result: dict) -> list[tuple[str, str, str, str]]:
    strategy = result.get("strategy", "snes")
    rows = []
    for r in result["rows"]:
        target = ""
        if r["chains"] == 15:
            target = f"≥ {CHAINS_TARGET:.0f}×: {_verdict(r['vs 1 chain(s)'], CHAINS_TARGET)}"
        rows.append(
            (
                "8",
                (
                    f"{r['chains']} {r['task']} {strategy} chain(s) in one vmapped program "
                    f"(population {r['population']}, D_active {r['D_active']}, "
                    f"{r['generations']} generations)"
                ),
                f"{r['chain-gen/s']:.1f} chain-gen/s = {r['vs 1 chain(s)']:.2f}× one chain",
                target,
            )
        )
    if strategy == "snes" and not any(r["chains"] == 15 for r in result["rows"]):
        rows.append(("8", "15 chains", "not measured", f"≥ {CHAINS_TARGET:.0f}×: not measured"))
    diffs = result.get("same_numbers", {})
    if diffs:
        worst = max(diffs.values())
        value = "bitwise" if worst == 0 else f"differ by up to {worst:.1e}"
        rows.append(
            ("8", f"{strategy}: a chain alone, in a group of 1 and in the group", value, "")
        )
    return rows


def _rollout_rows(result: dict) -> list[tuple[str, str, str, str]]:
    return [
        (
            "3",
            (
                f"{r['env']} env steps, population {r['population']} × {r['steps']} steps × "
                f"{r['repeats']} repeats"
            ),
            _rollout_value(r),
            "",
        )
        for r in result["rows"]
    ]


def _rollout_value(r: dict) -> str:
    """Steps/s on one device, or why it was not measured (a failed measurement is NaN)."""
    rate = r["1 dev steps/s"]
    if math.isnan(rate):
        return f"failed: {r.get('error', 'no steps/s recorded')}"
    return f"{rate:,.0f} steps/s (compile {r['compile s (1/2)'].split('/')[0]} s)"


def _round_rows(result: dict) -> list[tuple[str, str, str, str]]:
    if "skipped" in result:
        return [("rounds", "paper MNIST SNES chain", f"skipped: {result['skipped']}", "")]
    return [
        (
            "rounds",
            (
                f"paper MNIST SNES chain, round {r['round']} ({r['remaining']:.1%} remaining, "
                f"D_active {r['d_active']}, {result['generations']} generations)"
            ),
            f"test accuracy {r['test_accuracy']:.3f} in {r['seconds']:.0f} s",
            "",
        )
        for r in result["rounds"]
    ]


def _determinism_rows(result: dict) -> list[tuple[str, str, str, str]]:
    return [
        (
            "repro",
            (
                f"paper MNIST SNES chain, {r['generations']} generations in two fresh "
                f"processes, XLA flag {r['XLA flag']}"
            ),
            (
                ("bitwise" if r["bitwise across processes"] else "differ")
                + f" ({r['digests']}); {r['ms/gen']:.1f} ms/gen"
            ),
            "",
        )
        for r in result["rows"]
    ]


def _round_time_rows(result: dict) -> list[tuple[str, str, str, str]]:
    rows = []
    for r in result["rows"]:
        if "error" in r:
            rows.append(("11", f"round 0 of `{r['case']}`", r["error"], ""))
            continue
        rows.append(
            (
                "11",
                (
                    f"round 0 of `{r['case']}` at config/paper.yaml's settings: {r['units run']} "
                    f"{r['unit']}(s) run, {r['metric name']} {r['metric']:.4g}"
                ),
                (
                    f"{r['s/unit'] * 1e3:.1f} ms/{r['unit']} (first chunk's overhead "
                    f"{r['overhead s']:.1f} s; start {r['start s']:.1f} s): the paper's "
                    f"{r['paper units']} {r['unit']}s ≈ {r['paper round s']:.0f} s a round"
                ),
                "",
            )
        )
    return rows


def _form_rows(result: dict) -> list[tuple[str, str, str, str]]:
    return [
        (
            "forms",
            f"paper CNN fitness, `{r['form']}`, population {r['population']} × batch {r['batch']}",
            (
                f"{r['s/gen'] * 1e3:.1f} ms/gen = {r['of peak']:.1%} of peak "
                f"({result.get('peak_gflops', float('nan')):.0f} GFLOP/s); "
                f"max |Δfitness| {r['max |Δfitness|']:.1e}"
            ),
            "",
        )
        for r in result["rows"]
    ]


RENDER = {
    "cnn_fitness": _cnn_rows,
    "chains": _chain_rows,
    "chains_sep_cma_es": _chain_rows,
    "rollouts": _rollout_rows,
    "gpu_rounds": _round_rows,
    "gpu_determinism": _determinism_rows,
    "round_times": _round_time_rows,
    "gpu_fitness_forms": _form_rows,
}


def table_rows(check: dict) -> list[tuple[str, str, str, str]]:
    """(bench, measurement, value, target) for every step of one ``gpu_check.json`` (or
    ``gpu_followup.json``): its
    numbers where the step wrote them, else what became of the step."""
    results = {stem.removesuffix("-quick"): r for stem, r in check["results"].items()}
    machine = _machine(check["results"])
    rows = [
        (
            "",
            "machine",
            f"{check.get('nvidia_smi') or 'no nvidia-smi'}; JAX {machine.get('jax', '?')}, "
            f"{machine.get('device_kind', '?')}"
            + (
                "; BENCH_QUICK sizes (a smoke run, not a measurement)"
                if machine.get("quick")
                else ""
            ),
            "",
        )
    ]
    for step in check["steps"]:
        stem = STEP_BENCHES.get(step["step"], step["step"])
        if step["rc"] != 0 or stem not in results:
            why = "ran out of its time limit" if step["rc"] in (124, 137) else "failed"
            rows.append(
                (
                    step["step"],
                    f"step `{step['step']}`",
                    (
                        f"{why} (rc {step['rc']} after {step['seconds']} s of {step['limit_s']} s; "
                        f"see {step['step']}.log)"
                    ),
                    "",
                )
            )
            if stem not in results:
                continue
        rows.extend(RENDER[stem](results[stem]))
    return rows


def markdown(rows: list[tuple[str, str, str, str]]) -> str:
    lines = ["| bench | measurement | value | target |", "|---|---|---|---|"]
    # a "|" inside a cell would end it
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python bench/gpu_table.py path/to/gpu_check.json", file=sys.stderr)
        return 2
    path = Path(argv[0])
    if not path.is_file():
        print(f"no such file: {path} (gpu_check.sh writes it in its OUT folder)", file=sys.stderr)
        return 2
    print(markdown(table_rows(json.loads(path.read_text()))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
