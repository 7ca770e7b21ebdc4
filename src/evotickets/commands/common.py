"""Arguments the chain, transfer and analysis verbs share."""

from __future__ import annotations

import argparse
import os

from ..platform import JAX_CACHE_ENV

#: Set (to anything but ``0``) to make the round and transfer verbs train a round whose files
#: are already valid and current, e.g. after a code change that Snakemake does not see:
#: ``EVOTICKETS_RECOMPUTE=1 snakemake --forcerun train ...`` (under ``resources.group_chains``
#: the rules are ``train_seeds`` or ``train_pairs_<task>_<strategy>``, and for transfers
#: ``transfer`` or ``transfer_seeds``; or name the round's file with ``--forcerun <file>``).
#: Without it such a round is kept. The analysis verbs then compute again too, instead of
#: putting back the result of the same inputs (:mod:`evotickets.analysis_memo`).
RECOMPUTE_ENV = "EVOTICKETS_RECOMPUTE"


def recompute_asked() -> bool:
    """Whether ``$EVOTICKETS_RECOMPUTE`` asks the verbs to compute what they would keep."""
    return os.environ.get(RECOMPUTE_ENV, "") not in ("", "0")


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
