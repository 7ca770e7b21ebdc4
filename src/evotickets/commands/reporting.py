"""CLI verbs that read finished artifacts or configs: ``table``, ``check-config``."""

from __future__ import annotations

import os
from pathlib import Path

from ..config import load_config


def cmd_table(args) -> None:
    from ..report import accuracy_table

    text = accuracy_table(args.results)
    if args.out:
        tmp = Path(args.out + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, args.out)
    print(text)


def cmd_check_config(args) -> None:
    cfg = load_config(args.configfile)
    print(
        f"{args.configfile}: valid ({len(cfg['tasks'])} tasks, "
        f"{len(cfg['strategies'])} strategies, {len(cfg['methods'])} methods, "
        f"{len(cfg['seeds'])} seeds, {cfg['rounds']} rounds)"
    )


def register(sub) -> None:
    sp = sub.add_parser("table", help="print test metric against sparsity per method")
    sp.add_argument("results", help="results/<experiment> folder")
    sp.add_argument("--out")
    sp.set_defaults(func=cmd_table)

    sp = sub.add_parser("check-config", help="validate a config file")
    sp.add_argument("configfile")
    sp.set_defaults(func=cmd_check_config)
