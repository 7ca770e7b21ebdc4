"""`evotickets <verb>`: the only entry point the Snakemake rules call.

The verbs live in :mod:`evotickets.commands`; this module builds the parser and turns the
project's known errors into one clear line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys

from .artifacts import ArtifactError
from .commands import COMMAND_MODULES
from .config import ConfigError

#: What `evotickets --help` says above the verbs (the module docstring is for developers).
DESCRIPTION = (
    "Lottery tickets under evolution strategies: the verbs the workflow's rules run, and the "
    "ones a researcher runs by hand on finished results (table, claims, figure, collect, "
    "check-config). `evotickets <verb> --help` says what each takes."
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evotickets", description=DESCRIPTION)
    sub = p.add_subparsers(dest="verb", required=True, metavar="<verb>")
    for name in COMMAND_MODULES:
        importlib.import_module(f"evotickets.commands.{name}").register(sub)
    helps = {action.dest: action.help for action in sub._choices_actions}
    for verb, parser in sub.choices.items():  # `<verb> --help` says what the verb does
        if parser.description is None and helps.get(verb):
            # a help string escapes % for argparse's formatting, which a description skips
            text = helps[verb].replace("%%", "%")
            parser.description = text[0].upper() + text[1:] + "."
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .platform import PlatformError
    from .tasks.data import DataError
    from .train.errors import AllMembersFailed

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


def run() -> None:
    """Console entry point: ``main``, then an immediate exit.

    A verb's artifact is complete once it is renamed into place; until Snakemake sees the
    process end and records the job as finished, a kill makes it rerun the job. Python's and
    JAX's teardown takes about a second (more on a loaded node), so this skips it: streams are
    flushed, files are closed, and nothing else is left to do.
    """
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        code = main()
    except SystemExit as stop:  # argparse's, or SIGTERM's: unwound, now leave at once
        code = _exit_status(stop.code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _exit_status(code: object) -> int:
    """The status ``sys.exit(code)`` gives: 0 for None, the number, else 1 with the message
    on stderr (as Python's own exit prints it)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _exit_on_sigterm(signum: int, frame) -> None:
    """SIGTERM (SLURM's at a time limit or preemption, before its SIGKILL) as an exit that
    unwinds: by default Python dies on it without running ``finally`` blocks, so a write in
    progress left its temporary file (a whole artifact's size) behind for good. Raised
    between bytecodes, so within a long jitted call it waits for the call to return."""
    sys.exit(128 + signum)


if __name__ == "__main__":
    run()
