"""CLI verbs, one module per family. Each module has ``register(subparsers)``; add a new
family by writing a module and listing it in ``COMMAND_MODULES``."""

COMMAND_MODULES = ("chain", "reporting", "analysis", "transfer")
