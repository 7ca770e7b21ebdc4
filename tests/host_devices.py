"""Run a snippet in a fresh process whose CPU is two host devices (what
``EVOTICKETS_CPU_DEVICES=2`` sets up), for the tests of the population split.

The device count is fixed when JAX starts, so the split cannot be tested in pytest's own
process. XLA's collective timeouts are shortened so that a deadlock in a collective (the failure
these tests guard against) fails the test in about 20 s instead of XLA's default minute."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PREAMBLE = """
from evotickets.platform import use_host_devices
use_host_devices(2)
"""

DEADLOCK_FLAGS = (
    " --xla_cpu_collective_call_warn_stuck_timeout_seconds=5"
    " --xla_cpu_collective_call_terminate_timeout_seconds=15"
)


def on_two_host_devices(code: str, *args: str, timeout_s: int = 300):
    """Run ``code`` (after :data:`PREAMBLE`) with ``args`` in ``sys.argv[1:]``; it must print
    JSON as its last line, which is returned. Fails with the process's stderr if it exits
    non-zero (XLA aborts a process stuck in a collective)."""
    env = {**os.environ, "XLA_FLAGS": os.environ.get("XLA_FLAGS", "") + DEADLOCK_FLAGS}
    out = subprocess.run(
        [sys.executable, "-c", PREAMBLE + code, *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])
