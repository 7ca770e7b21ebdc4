"""Tests for evotickets.host: what a trained round records of the machine that trained it,
and what the accuracy table says of an experiment's machines."""

from __future__ import annotations

from pathlib import Path

import jax

from evotickets import host

CPUINFO = """processor\t: 0
model name\t: AMD EPYC 9B14
flags\t\t: fpu sse sse2 fma avx avx2 avx512f avx512_bf16 amx_tile bmi2
processor\t: 1
model name\t: AMD EPYC 9B14
"""


def test_the_cpu_is_described_by_its_model_vector_flags_and_caches(tmp_path, monkeypatch):
    import platform

    # /proc's model name first: many Linux Pythons' platform.processor() says only "x86_64",
    # which would record every machine alike
    monkeypatch.setattr(platform, "processor", lambda: "x86_64")
    assert host.cpu_model(CPUINFO) == "AMD EPYC 9B14"
    assert host.cpu_model("") == "x86_64"
    assert host.vector_extensions(CPUINFO) == "fma avx avx2 avx512f avx512_bf16 amx_tile"
    caches = [(1, "Data", "32K"), (1, "Instruction", "32K"), (2, "Unified", "1024K"),
              (3, "Unified", "32768K")]  # fmt: skip
    for i, (level, kind, size) in enumerate(caches):
        d = tmp_path / f"index{i}"
        d.mkdir()
        for name, value in (("level", level), ("type", kind), ("size", size)):
            (d / name).write_text(f"{value}\n")
    assert host.cache_sizes(tmp_path) == "L1d 32K, L2 1024K, L3 32768K"
    assert host.cache_sizes(tmp_path / "absent") == ""


def test_trained_on_names_the_backend_the_device_count_and_this_cpu():
    line = host.trained_on()
    assert line.startswith(f"{jax.default_backend()} ") and f"×{len(jax.devices())}; " in line
    assert line.endswith(host.cpu_description())
    cpuinfo = Path("/proc/cpuinfo")  # the model as /proc says it, not as the code reads it
    rows = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    model = next((r.split(":", 1)[1].strip() for r in rows if r.startswith("model name")), None)
    if model is not None:  # x86 Linux (aarch64's /proc/cpuinfo names no model)
        assert f"; {model}" in line


def test_the_machines_line_warns_where_rounds_come_from_several_machines():
    assert host.machines_line({"cpu ×1; A": 6}) == "trained on: cpu ×1; A (6 rounds)"
    lines = host.machines_line({"cpu ×1; B": 2, "cpu ×1; A": 4}).splitlines()
    assert lines[0].startswith("trained on 2 different machines: expect last-bit differences")
    assert lines[1:] == ["  4 rounds: cpu ×1; A", "  2 rounds: cpu ×1; B"]
    assert "not recorded" in host.machines_line({})


def test_machine_counts_skip_rounds_without_a_record():
    assert host.machine_counts(["cpu ×1; B", "", "cpu ×1; A", "cpu ×1; B"]) == {
        "cpu ×1; A": 1,
        "cpu ×1; B": 2,
    }
