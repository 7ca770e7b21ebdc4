"""Arguments the chain, transfer and analysis verbs share."""

from __future__ import annotations

import argparse
import os


def chain_args(sp: argparse.ArgumentParser) -> None:
    """Arguments every chain verb takes."""
    sp.add_argument("--settings", required=True, help="chain settings as JSON")
    sp.add_argument("--jax-cache", default=os.environ.get("EVOTICKETS_JAX_CACHE"))
