"""Shared helpers of the benchmark suite: quick mode, timing, machine facts, tables, JSON.

Every ratio a bench reports compares two things timed side by side in the same process
(interleaved, best of several repeats), because this machine's absolute speed drifts with
whatever else runs on it. The JSON records the load average before and after for that reason.
"""

from __future__ import annotations

import atexit
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = Path(os.environ.get("BENCH_OUT", ROOT / "results" / "bench"))
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0", "false", "no")
LOAD_AT_START = os.getloadavg()[0]


def sized(name: str, full: int, quick: int) -> int:
    """A bench's size: the environment variable ``name`` where set (it wins in quick mode
    too, as in every bench), else ``quick`` under BENCH_QUICK, else ``full``."""
    return int(os.environ.get(name) or (quick if QUICK else full))


KEEP = os.environ.get("BENCH_KEEP", "") not in ("", "0", "false", "no")


def work_folder(prefix: str) -> Path:
    """A new temporary folder for a bench's artifacts, removed when the process exits
    (a bench's chains fill hundreds of MB) unless BENCH_KEEP is set, to look inside."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if KEEP:
        atexit.register(print, f"kept {path} (BENCH_KEEP)", file=sys.stderr)
    else:
        atexit.register(shutil.rmtree, path, True)
    return path


def setup_devices(n: int | None = None) -> None:
    """Expose the CPU as ``n`` host devices (default: BENCH_CPU_DEVICES or the core count),
    as the library's CLI does (synchronous dispatch: :func:`evotickets.platform.use_host_devices`).
    Must run before JAX's first operation."""
    from evotickets.platform import use_host_devices

    n = n or int(os.environ.get("BENCH_CPU_DEVICES") or os.cpu_count() or 1)
    if n > 1:
        use_host_devices(n)


def block(x):
    import jax

    return jax.block_until_ready(x)


def time_interleaved(fns: dict[str, Callable[[], object]], repeats: int = 5, min_s: float = 0.0):
    """Best wall time (s) of each thunk, run round-robin ``repeats`` times after one warm-up.

    Each timing repeats the call until ``min_s`` has passed and divides, so that very short
    calls are not dominated by timer noise."""
    for f in fns.values():
        block(f())
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, f in fns.items():
            n, t0 = 0, time.perf_counter()
            while True:
                block(f())
                n += 1
                dt = time.perf_counter() - t0
                if dt >= min_s:
                    break
            best[name] = min(best[name], dt / n)
    return best


def matmul_peak(n: int = 2048, repeats: int = 5) -> float:
    """float32 GFLOP/s of ``jnp.dot`` on n×n matrices on the default device, best of repeats."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    dot = jax.jit(jnp.dot)
    t = time_interleaved({"dot": lambda: dot(a, b)}, repeats=repeats, min_s=0.2)["dot"]
    return 2 * n**3 / t / 1e9


def machine() -> dict:
    import jax

    from evotickets import host

    dev = jax.devices()[0]
    info = {
        "platform": dev.platform,
        "device_kind": getattr(dev, "device_kind", ""),
        "devices": len(jax.devices()),
        "cpu_count": os.cpu_count(),
        "processor": host.cpu_model(),
        "cpu_vector_extensions": host.vector_extensions(),
        "cpu_caches": host.cache_sizes(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "quick": QUICK,
        "loadavg_1min_start": LOAD_AT_START,
    }
    return info


def table(title: str, rows: list[dict], columns: list[str]) -> str:
    """A small fixed-width table of ``rows`` (dicts) over ``columns``."""

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"
        return str(v)

    cells = [[fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = [title, "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def report(name: str, title: str, rows: list[dict], columns: list[str], **extra) -> dict:
    """Print the table and write ``results/bench/<name>.json`` (rows, machine, extras)."""
    print(table(title, rows, columns), flush=True)
    payload = {"bench": name, "machine": machine(), "rows": rows, **extra}
    payload["machine"]["loadavg_1min_end"] = os.getloadavg()[0]
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{name}{'-quick' if QUICK else ''}.json"
    path.write_text(json.dumps(payload, indent=1, default=float))
    print(f"wrote {path}", flush=True)
    return payload


def run_python(
    code: str, env: dict | None = None, args: list[str] | None = None, timeout: float = 3000
) -> dict:
    """Run ``code`` in a fresh interpreter (its own XLA flags, its own peak memory); it must
    print one JSON object as its last line."""
    # bench/ first, then whatever the caller's PYTHONPATH holds (gpu_check.sh puts the
    # carried wheels and src/ there on a device machine without this project installed)
    path = os.pathsep.join(filter(None, [str(ROOT / "bench"), os.environ.get("PYTHONPATH")]))
    full_env = {**os.environ, "PYTHONPATH": path, **(env or {})}
    out = subprocess.run(
        [sys.executable, "-c", code, *(args or [])],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"subprocess failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])
