"""Arguments the chain, transfer and analysis verbs share."""

from __future__ import annotations

import argparse
import os

from ..platform import JAX_CACHE_ENV


def round_index(text: str) -> int:
    """``--round``: a round index t ≥ 0 (argparse reports anything else as a usage error
    naming the flag, instead of a traceback deep in the verb)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a round index (an integer ≥ 0)")
    return value


def chain_args(sp: argparse.ArgumentParser) -> None:
    """Arguments every chain verb takes."""
    sp.add_argument("--settings", required=True, help="chain settings as JSON")
    sp.add_argument("--jax-cache", default=os.environ.get(JAX_CACHE_ENV))
