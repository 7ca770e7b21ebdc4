"""The results layout: the only place that knows where each artifact of an experiment lives.

    results/{exp}/{task}/seed{seed}/init.h5                                       θ0
    results/{exp}/{task}/{strategy}/{method}/seed{seed}/iter{it}/mask.h5          a round's mask
    results/{exp}/{task}/{strategy}/{method}/seed{seed}/iter{it}/trained.h5       … its training
    results/{exp}/{task}/{strategy}/{method}/seed{seed}/analysis/{analysis}.h5    per chain
    results/{exp}/{task}/{strategy}/{method}/iter{it}/group.log                   seeds' job log
    results/{exp}/{task}/{strategy}/iter{it}/group.log                            pair's job log
    results/{exp}/{task}/{strategy}/{method}/analysis/{analysis}.h5               across seeds
    results/{exp}/transfer/{name}/seed{seed}/iter{it}/trained.h5                  a transfer round
    results/{exp}/transfer/{name}/seed{seed}/analysis/{analysis}.h5
    results/{exp}/summary.nc, claims.md, accuracy_table.txt, figures/{fig}.png

Every function returns a path as a string. A field left out (``None``) stays a Snakemake
wildcard, ``{field}``, so the rules use the same functions as the Python readers: a rule's
output is ``paths.round_file("mask.h5")`` and ``collect`` reads
``paths.round_file("trained.h5", root=exp_dir, task=..., ..., it=3)``. Give ``"*"`` for a
field to get a glob pattern. ``root`` is the experiment folder (default ``results/{exp}``).
Rounds are written with two digits (``iter03``); a string ``it`` is taken as it is.
"""

from __future__ import annotations

import numbers
import os
from pathlib import PurePath

RESULTS = "results"
#: The names that become folders, as regular expressions: an experiment's, and a task entry's
#: or a transfer's. The workflow's wildcards match them, the config's schema (its patterns,
#: anchored) and checks allow only them (tests/unit/test_paths.py holds the three together).
EXPERIMENT_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
ENTRY_NAME = r"[a-z0-9_]+"
# The persistent JAX compilation cache every job shares (config key jax_cache_dir overrides).
JAX_CACHE = f"{RESULTS}/.jax-cache"

Field = str | int | None


def _text(value: Field, name: str) -> str:
    return "{" + name + "}" if value is None else str(value)


def iteration(it: Field) -> str:
    """A round as it appears in paths: ``3`` → ``03`` (a NumPy integer too: it gave ``3``, a
    path no rule writes); a string (a wildcard, ``*``) as is."""
    if it is None:
        return "{it}"
    return f"{int(it):02d}" if isinstance(it, numbers.Integral) else str(it)


def experiment(exp: Field = None, root: str | os.PathLike | None = None) -> str:
    """The experiment folder, ``results/{exp}``, or ``root`` when given."""
    return str(root) if root is not None else f"{RESULTS}/{_text(exp, 'exp')}"


#: The claims stage's three files, written together (the rule's outputs, the verb's writes).
CLAIMS_MD, CLAIMS_HTML, CLAIMS_NC = "claims.md", "claims.html", "claims.nc"
CLAIMS_FILES = (CLAIMS_MD, CLAIMS_HTML, CLAIMS_NC)


def experiment_of(path: str | os.PathLike, cwd: str | os.PathLike | None = None) -> str | None:
    """The experiment folder (``…/results/<exp>``) that ``path`` lies under, or None where no
    folder follows a ``results`` part before the file. The first ``results`` part counts (an
    experiment or a task may itself be named results), after the working directory ``cwd``
    (default: this process's) for an absolute path under it: a checkout may itself lie under
    a folder named results."""
    path = PurePath(path)
    base = PurePath(os.getcwd() if cwd is None else cwd)
    prefix = PurePath()
    if path.is_absolute() and path.is_relative_to(base):
        prefix, path = base, path.relative_to(base)
    parts = path.parts
    if RESULTS in parts[:-1]:
        i = parts.index(RESULTS)
        if i + 1 < len(parts) - 1:
            return str(prefix.joinpath(*parts[: i + 2]))
    return None


def experiment_file(file: str, exp: Field = None, root=None) -> str:
    """A file of the whole experiment: ``summary.nc``, ``claims.md``, ``accuracy_table.txt``."""
    return f"{experiment(exp, root)}/{file}"


def figure(fig: Field = None, ext: str = "png", exp: Field = None, root=None) -> str:
    return f"{experiment(exp, root)}/figures/{_text(fig, 'fig')}.{ext}"


def init(
    file: str = "init.h5", exp: Field = None, task: Field = None, seed: Field = None, root=None
) -> str:
    """θ0 of (task, seed), shared by every strategy and method."""
    return f"{experiment(exp, root)}/{_text(task, 'task')}/seed{_text(seed, 'seed')}/{file}"


def chain(
    exp: Field = None, task: Field = None, strategy: Field = None, method: Field = None, root=None
) -> str:
    """The folder of a (task, strategy, method): its seeds' chains and cross-seed analyses."""
    return (
        f"{experiment(exp, root)}/{_text(task, 'task')}/{_text(strategy, 'strategy')}/"
        f"{_text(method, 'method')}"
    )


def _chain_seed(exp, task, strategy, method, seed, root) -> str:
    return f"{chain(exp, task, strategy, method, root)}/seed{_text(seed, 'seed')}"


#: The folder of an experiment that holds its transfers (so no task entry may take the name).
TRANSFER_FOLDER = "transfer"


def _transfer_seed(exp, name, seed, root) -> str:
    folder = f"{experiment(exp, root)}/{TRANSFER_FOLDER}"
    return f"{folder}/{_text(name, 'name')}/seed{_text(seed, 'seed')}"


def round_file(
    file: str,
    exp: Field = None,
    task: Field = None,
    strategy: Field = None,
    method: Field = None,
    seed: Field = None,
    it: Field = None,
    root=None,
) -> str:
    """A file of one round of one chain: ``mask.h5``, ``trained.h5``, their logs."""
    return f"{_chain_seed(exp, task, strategy, method, seed, root)}/iter{iteration(it)}/{file}"


def round_fields(path: str | os.PathLike) -> dict[str, str | int]:
    """The chain and round a round's file names by its folders, the inverse of
    :func:`round_file`: task, strategy, method, seed (as its folder spells it) and round."""
    *_, task, strategy, method, seed, it, _ = PurePath(path).parts
    return {"task": task, "strategy": strategy, "method": method, **_seed_and_round(seed, it)}


def is_transfer_round(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a file of a transfer round (``…/transfer/<name>/seed<k>/iter<t>/
    <file>``), by its place: an experiment or a folder above results/ may be named
    ``transfer`` too."""
    parts = PurePath(path).parts
    return len(parts) >= 5 and parts[-5] == TRANSFER_FOLDER


def transfer_round_fields(path: str | os.PathLike) -> dict[str, str | int]:
    """The transfer and round a transfer round's file names by its folders, the inverse of
    :func:`transfer_round_file`: transfer_name, seed and round."""
    *_, name, seed, it, _ = PurePath(path).parts
    return {"transfer_name": name, **_seed_and_round(seed, it)}


def _seed_and_round(seed: str, it: str) -> dict[str, str | int]:
    return {"seed": seed.removeprefix("seed"), "round": int(it.removeprefix("iter"))}


def seeds_round_file(
    file: str,
    exp: Field = None,
    task: Field = None,
    strategy: Field = None,
    method: Field = None,
    it: Field = None,
    root=None,
) -> str:
    """A file of round t of every seed of a (task, strategy, method): the ``group.log`` of a
    `train_seeds` job (config ``resources.group_chains: seeds``)."""
    return f"{chain(exp, task, strategy, method, root)}/iter{iteration(it)}/{file}"


def strategy_round_file(
    file: str,
    exp: Field = None,
    task: Field = None,
    strategy: Field = None,
    it: Field = None,
    root=None,
) -> str:
    """A file of round t of every chain of a (task, strategy): the ``group.log`` of its
    group job (config ``resources.group_chains: seeds_and_methods``)."""
    return f"{experiment(exp, root)}/{_text(task, 'task')}/{_text(strategy, 'strategy')}/iter{iteration(it)}/{file}"


def chain_analysis(
    file: str,
    exp: Field = None,
    task: Field = None,
    strategy: Field = None,
    method: Field = None,
    seed: Field = None,
    root=None,
) -> str:
    """An analysis of one chain (``lmc_consecutive.h5``, ``landscape.h5``, …)."""
    return f"{_chain_seed(exp, task, strategy, method, seed, root)}/analysis/{file}"


def seeds_analysis(
    file: str,
    exp: Field = None,
    task: Field = None,
    strategy: Field = None,
    method: Field = None,
    root=None,
) -> str:
    """An analysis across the seeds of a (task, strategy, method): ``lmc_seeds.h5``."""
    return f"{chain(exp, task, strategy, method, root)}/analysis/{file}"


def transfer_round_file(
    file: str,
    exp: Field = None,
    name: Field = None,
    seed: Field = None,
    it: Field = None,
    root=None,
) -> str:
    """A file of one round of a transfer chain: ``trained.h5``, ``transfer.log``."""
    return f"{_transfer_seed(exp, name, seed, root)}/iter{iteration(it)}/{file}"


def transfer_seeds_round_file(
    file: str, exp: Field = None, name: Field = None, it: Field = None, root=None
) -> str:
    """A file of round t of every seed of a transfer: the ``group.log`` of its
    `transfer_seeds` job (config ``resources.group_chains`` other than ``none``)."""
    folder = f"{experiment(exp, root)}/{TRANSFER_FOLDER}/{_text(name, 'name')}"
    return f"{folder}/iter{iteration(it)}/{file}"


def transfer_analysis(
    file: str, exp: Field = None, name: Field = None, seed: Field = None, root=None
) -> str:
    """An analysis of one transfer chain: ``lmc_es_gd.h5``."""
    return f"{_transfer_seed(exp, name, seed, root)}/analysis/{file}"
