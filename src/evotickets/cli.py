"""`evotickets <verb>`: the only entry point the Snakemake rules call.

The verbs live in :mod:`evotickets.commands`; this module builds the parser and turns the
project's known errors into one clear line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .artifacts import ArtifactError
from .commands import COMMAND_MODULES
from .config import ConfigError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evotickets", description=__doc__)
    sub = p.add_subparsers(dest="verb", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"evotickets.commands.{name}").register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .platform import PlatformError
    from .tasks.data import DataError
    from .train.es import AllMembersFailed

    try:
        args.func(args)
    except (
        ConfigError,
        ArtifactError,
        DataError,
        AllMembersFailed,
        PlatformError,
        ValueError,
    ) as err:
        print(f"evotickets {args.verb}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
