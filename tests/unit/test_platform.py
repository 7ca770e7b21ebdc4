"""Which platform a verb runs on (EVOTICKETS_PLATFORM, SLURM's GPUs, EVOTICKETS_CPU_DEVICES)
and the compilation cache's folder: platform.configure is called here with stand-in devices
and a recording jax.config.update, so nothing about this process's JAX changes."""

from __future__ import annotations

import os
import subprocess
import sys
import types

import jax
import pytest

from evotickets.platform import PlatformError, _make_cache_dir, configure

CPU = [types.SimpleNamespace(platform="cpu")]


@pytest.fixture
def updates(monkeypatch):
    """The jax.config updates configure makes, recorded instead of applied."""
    for name in ("EVOTICKETS_PLATFORM", "SLURM_GPUS_ON_NODE"):
        monkeypatch.delenv(name, raising=False)
    calls = []
    monkeypatch.setattr(jax.config, "update", lambda *a: calls.append(a))
    return calls


def test_platform_cpu_makes_jax_use_the_cpu(monkeypatch, updates):
    """resources.gpu: 0 on a GPU node (EVOTICKETS_PLATFORM=cpu) sets jax_platforms=cpu;
    without it JAX would take the GPU."""
    monkeypatch.setenv("EVOTICKETS_PLATFORM", "cpu")
    assert configure(needs_gpu=True, devices=CPU) == "cpu"
    assert ("jax_platforms", "cpu") in updates


def test_only_a_verb_that_trains_refuses_a_missing_gpu(monkeypatch, updates):
    """init, mask and the analyses run on a CPU-only node with EVOTICKETS_PLATFORM=gpu (the
    workflow sets it for every job of a GPU config); a verb that trains stops at once."""
    monkeypatch.setenv("EVOTICKETS_PLATFORM", "gpu")
    assert configure(needs_gpu=False, devices=CPU) == "cpu"
    with pytest.raises(PlatformError, match="a GPU was asked for"):
        configure(needs_gpu=True, devices=CPU)


def test_platform_cpu_overrides_the_gpus_slurm_gave(monkeypatch, updates):
    """The refusal's own fix, `export EVOTICKETS_PLATFORM=cpu`, works in a SLURM job given
    GPUs: training on the CPU on purpose is not refused (without it, it is)."""
    monkeypatch.setenv("SLURM_GPUS_ON_NODE", "2")
    with pytest.raises(PlatformError, match="SLURM gave this job 2 GPU"):
        configure(needs_gpu=True, devices=CPU)
    monkeypatch.setenv("EVOTICKETS_PLATFORM", "cpu")
    assert configure(needs_gpu=True, devices=CPU) == "cpu"


def test_evotickets_cpu_devices_gives_the_verbs_that_many_host_devices():
    """setup_jax, as every training verb calls it, exposes EVOTICKETS_CPU_DEVICES=2 as two
    host devices (the device count is fixed when JAX starts: a fresh process)."""
    code = (
        "from evotickets.platform import setup_jax; setup_jax(None); import jax; "
        "print(len(jax.devices()))"
    )
    env = {**os.environ, "EVOTICKETS_CPU_DEVICES": "2"}
    env.pop("EVOTICKETS_PLATFORM", None)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
        check=True,
    )  # fmt: skip
    assert int(out.stdout.strip().splitlines()[-1]) == 2


def test_a_jax_cache_under_a_file_is_refused_naming_the_fix(tmp_path):
    """A cache folder whose parent is a file gets the named error a cache path that is a
    file gets (it was a bare NotADirectoryError)."""
    (tmp_path / "scratch").write_text("a file\n")
    with pytest.raises(PlatformError, match="is not a folder"):
        _make_cache_dir(tmp_path / "scratch" / "cache")
    with pytest.raises(PlatformError, match="is not a folder"):
        _make_cache_dir(tmp_path / "scratch")
