"""What machine trained a round: recorded in its trained.h5 (``trained_on``), counted over an
experiment in summary.nc and printed under the accuracy table.

Why: the same config and seed give the same numbers on one machine and environment, not
across machines. The kernel libraries under XLA pick their code, and with it the order of
their float sums, from the hardware at run time: the CPU's vector extensions and cache sizes
(matrix-product blocking), the GPU's model (cuDNN's and cuBLAS's kernels). A last-bit
difference in one trained round moves weights near a pruning threshold, and the chain follows
another path from there. Two `make run`s on two boots of one sandbox did differ so (README,
"The same numbers on another machine?") and nothing recorded which hardware trained them; now
every round says, so that results of two machines are told apart instead of puzzled over.

Only Linux's /proc and /sys are read; elsewhere the CPU part says what it could not find.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

#: the CPU flags that decide which vector code a kernel library runs
VECTOR_FLAG_PREFIXES = ("avx", "fma", "amx")


def _cpuinfo(field: str, text: str | None = None) -> str:
    """``field``'s value on /proc/cpuinfo's first processor ('' where there is none)."""
    if text is None:
        try:
            text = Path("/proc/cpuinfo").read_text()
        except OSError:
            return ""
    for line in text.splitlines():
        if line.startswith(field):
            return line.split(":", 1)[1].strip()
    return ""


def cpu_model(cpuinfo: str | None = None) -> str:
    """The CPU's model name, or the platform's processor string where /proc has none."""
    import platform

    return _cpuinfo("model name", cpuinfo) or platform.processor() or "unknown CPU"


def vector_extensions(cpuinfo: str | None = None) -> str:
    """The CPU's AVX/FMA/AMX flags, space-separated."""
    flags = _cpuinfo("flags", cpuinfo).split()
    return " ".join(f for f in flags if f.startswith(VECTOR_FLAG_PREFIXES))


def cache_sizes(root: Path = Path("/sys/devices/system/cpu/cpu0/cache")) -> str:
    """The first core's data and unified caches, e.g. ``L1d 32K, L2 1024K, L3 32768K``."""
    out = []
    for index in sorted(root.glob("index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        if kind == "Instruction":
            continue
        out.append(f"L{level}{'d' if kind == 'Data' else ''} {size}")
    return ", ".join(out)


@functools.cache
def cpu_description() -> str:
    """Model, vector extensions and caches of this process's CPU, on one line."""
    parts = [cpu_model(), vector_extensions(), cache_sizes()]
    return "; ".join(p for p in parts if p)


def trained_on() -> str:
    """The device JAX trains on (backend, kind, count) and the host CPU, on one line. Call it
    where JAX already runs (it asks JAX for its devices)."""
    import jax

    backend, devices = jax.default_backend(), jax.devices()
    kinds = sorted({getattr(d, "device_kind", "") or d.platform for d in devices} - {backend})
    device = " ".join([backend, *(["/".join(kinds)] if kinds else [])])
    return f"{device} ×{len(devices)}; {cpu_description()}"


def machine_counts(trained_on: Iterable[str]) -> dict[str, int]:
    """Rounds per machine, from the rounds' ``trained_on`` values, sorted by machine; rounds
    without one (written before it was recorded: '') are not counted."""
    return dict(sorted(Counter(m for m in trained_on if m).items()))


def machines_line(counts: dict[str, int]) -> str:
    """What the accuracy table and the report say of the machines that trained an
    experiment's rounds (``trained_on`` → rounds)."""
    if not counts:
        return "trained on: not recorded (artifacts written before evotickets.host)"
    if len(counts) == 1:
        ((machine, n),) = counts.items()
        return f"trained on: {machine} ({n} rounds)"
    head = f"trained on {len(counts)} different machines: expect last-bit differences between"
    lines = [f"{head} their rounds (evotickets.host)"]
    lines += [f"  {n} rounds: {machine}" for machine, n in sorted(counts.items())]
    return "\n".join(lines)
