"""``python -m evotickets``: the CLI, for callers that know the interpreter but not PATH.

The Snakemake rules call it as ``<the interpreter running Snakemake> -m evotickets``, so a
workflow started as ``.venv/bin/snakemake`` without activating the venv, or submitted through
sbatch, runs this package's CLI rather than whatever ``evotickets`` PATH holds (or none)."""

from evotickets.cli import run

if __name__ == "__main__":
    run()
