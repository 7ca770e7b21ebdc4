"""Bad input: clear errors, nothing lost.

One table of bad inputs (configs, data, artifacts, numerics, environment). Every case asserts
the error type, that the message names the problem and the fix, and that no finished artifact
changed: each case runs against a copy of a finished results folder (init, round 0 mask and
trained, round 1 mask) hashed before and after. The few numerics that are not errors (some
members NaN or ±inf) are checked after the table: they are counted in the artifact.

Not covered here because the verb does not exist on this branch: a `transfer` between settings
of different shapes. Its shape check is the one `train` applies to a mask from another network
(case `artifact-mask-from-another-network`).
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import TINY_CONFIG

from evotickets import cli, paths
from evotickets.artifacts import REQUIRED_ATTRS, ArtifactError, read_artifact, write_artifact
from evotickets.config import ConfigError, chain_settings, load_config, validate_config
from evotickets.platform import PlatformError
from evotickets.tasks import data as data_mod
from evotickets.tasks.data import DataError
from evotickets.tasks.vision import VisionTask
from evotickets.train.es import AllMembersFailed


def _round(root: Path, it: int, file: str) -> Path:
    """A file of round ``it`` of the tiny config's magnitude chain (seed 0) under ``root``."""
    return root / paths.round_file(file, "tiny", "digits", "snes", "magnitude", 0, it)


def _init(root: Path) -> Path:
    return root / paths.init(exp="tiny", task="digits", seed=0)


ES = {"num_generations": 4, "log_every": 2}


def _cfg() -> dict:
    return validate_config(dict(copy.deepcopy(TINY_CONFIG), es=ES))


def _settings(method: str = "magnitude", seed: int = 0, **change) -> str:
    s = chain_settings(_cfg(), "digits", "snes", method, seed)
    s.update(change)
    return json.dumps(s)


def _init_settings(seed: int = 0, network: str = "cnn_small") -> str:
    return json.dumps(
        {"task": "digits", "network": network, "prune_output_layer": True, "seed": seed}
    )


def _verb(*argv: str) -> None:
    """Run a CLI verb so that its exception surfaces (cli.main would turn it into exit 2)."""
    args = cli.build_parser().parse_args(list(argv))
    args.func(args)


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A results folder with finished artifacts: init, iter00 mask and trained, iter01 mask."""
    root = tmp_path_factory.mktemp("finished")
    init = _init(root)
    s = _settings()
    _verb("init", "--settings", _init_settings(), "--out", str(init))
    common = ["--settings", s, "--init", str(init)]
    _verb("mask", *common, "--round", "0", "--out", str(_round(root, 0, "mask.h5")))
    _verb(
        "train", *common, "--round", "0", "--mask", str(_round(root, 0, "mask.h5")),
        "--out", str(_round(root, 0, "trained.h5")),
    )  # fmt: skip
    _verb(
        "mask", *common, "--round", "1", "--prev-trained", str(_round(root, 0, "trained.h5")),
        "--out", str(_round(root, 1, "mask.h5")),
    )  # fmt: skip
    return root


class W:
    """A case's workspace: a copy of the finished results folder plus a scratch folder."""

    def __init__(self, root: Path, monkeypatch):
        self.root, self.mp = root, monkeypatch
        self.init = _init(root)
        self.scratch = root / "scratch"
        self.scratch.mkdir()

    def round(self, it: int, file: str) -> Path:
        return _round(self.root, it, file)

    def train(self, round_: int = 1, out: Path | None = None, **kw) -> None:
        mask = kw.get("mask", self.round(round_, "mask.h5"))
        _verb(
            "train", "--settings", kw.get("settings", _settings()), "--round", str(round_),
            "--init", str(kw.get("init", self.init)), "--mask", str(mask),
            "--out", str(out or self.round(round_, "trained.h5")),
            "--checkpoint-every", "0",
        )  # fmt: skip

    def mask(
        self,
        round_: int = 2,
        prev: Path | None = None,
        settings: str | None = None,
        out: Path | None = None,
    ):
        _verb(
            "mask", "--settings", settings or _settings(), "--round", str(round_),
            "--init", str(self.init),
            "--prev-trained", str(prev or self.round(round_ - 1, "trained.h5")),
            "--out", str(out or self.round(round_, "mask.h5")),
        )  # fmt: skip


def _scratch_mask(w: W, settings: str) -> None:
    """The mask verb of round 1 with ``settings``, writing into the scratch folder."""
    _verb("mask", "--settings", settings, "--round", "1", "--init", str(w.init),
          "--out", str(w.scratch / "m.h5"))  # fmt: skip


# --- helpers that break things -----------------------------------------------------------------


def _config(mutate: Callable[[dict], None]) -> Callable[[W], None]:
    def run(w: W) -> None:
        cfg = copy.deepcopy(TINY_CONFIG)
        mutate(cfg)
        validate_config(cfg)

    return run


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _rewrite(path: Path, out: Path, change: Callable[[dict, dict], None]) -> Path:
    """Copy an artifact with changed arrays/attrs but the same schema and digest."""
    kind = path.stem
    arrays, attrs = read_artifact(path, kind)
    change(arrays, attrs)
    keep = {k: v for k, v in attrs.items() if k not in ("schema", "config_digest", "seed")}
    for k in ("evotickets_version", "created", "jax_version", "evosax_version"):
        keep.pop(k, None)
    write_artifact(
        out, kind, arrays, keep, config_digest=attrs["config_digest"], seed=attrs["seed"]
    )
    return out


def _collect_typo(out: Callable[[W], str]) -> Callable[[W], None]:
    """collect of a mistyped results folder, written to ``out(w)``."""
    return lambda w: _verb(
        "collect", "results/tyni", "--config-json", json.dumps(_cfg()), "--out", out(w)
    )


def _nan_kernel(arrays: dict, attrs: dict) -> None:
    """One NaN in the first kernel's first entry (a prunable, active weight)."""
    name = next(k for k in arrays if k.startswith("params/") and k.endswith("kernel"))
    arrays[name] = arrays[name].copy()
    arrays[name].flat[0] = np.nan


def _drop_a_mask_tensor(arrays: dict, attrs: dict) -> None:
    """A trained.h5 whose mask group lacks one tensor (a file written by other code)."""
    del arrays[next(k for k in arrays if k.startswith("mask/") and k.endswith("bias"))]


def _drop_round(arrays: dict, attrs: dict) -> None:
    """A trained.h5 without its round attribute (written by other code, or edited)."""
    del attrs["round"]


def _summary(w: W, write: bool = False) -> Path:
    """A finished summary.nc in the scratch folder (collect's writer), or its path."""
    path = w.scratch / "summary.nc"
    if write:
        _summary_with(w)
    return path


def _summary_with(w: W, lacking: tuple[str, ...] = (), **attrs) -> Path:
    """A finished summary.nc in the scratch folder of one chain round, whose ``attrs`` were
    edited by hand and the variables ``lacking`` removed."""
    import xarray as xr

    from evotickets.analysis.collect import save
    from evotickets.names import CHAIN_DIMS

    path = _summary(w)
    ds = xr.Dataset(
        {"test_metric": (CHAIN_DIMS, np.full((1,) * 5, 0.9))},
        coords={
            "task": ["digits"],
            "strategy": ["snes"],
            "method": ["random"],
            "seed": [0],
            "iteration": [0],
            "remaining_fraction": ("iteration", [1.0]),
        },
        attrs=attrs,
    )
    save(ds.drop_vars(list(lacking)), path)
    return path


def _transfer_from_digits_b(name: str, strategy: str, runs: list[str], **blocks: Callable):
    """A config with a task entry digits_b running ``runs`` and a transfer ``name`` from its
    ``strategy`` (no source method: the default) to digits/snes; ``blocks``: the config's
    blocks to set, each from the config."""

    def change(c: dict) -> None:
        c.update({key: block(c) for key, block in blocks.items()})
        c["tasks"] = {**c["tasks"], "digits_b": {"task": "digits", "strategies": runs}}
        c["transfer"] = [
            {
                "name": name,
                "source": {"task": "digits_b", "strategy": strategy},
                "target": {"task": "digits", "strategy": "snes"},
            }
        ]

    return _config(change)


def _claims_like(path: Path) -> None:
    """A netCDF file as claims.nc is, with no test_metric: no summary."""
    import xarray as xr

    xr.Dataset({"mean": ("row", [0.1])}).to_netcdf(path, engine="h5netcdf")


def _report_tiny(verb: str, out: Path, cfg: dict | None = None) -> None:
    """A report verb (table, collect) of the tiny run with ``cfg`` (its own by default)."""
    cfg = _cfg() if cfg is None else cfg
    _verb(verb, paths.experiment(exp="tiny"), "--config-json", json.dumps(cfg), "--out", str(out))


def _collect_tiny(w: W) -> None:
    """collect of the tiny run with its own config, to a scratch summary."""
    _report_tiny("collect", w.scratch / "s.nc")


def _copy_to(path: Path, to: Path) -> None:
    to.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, to)


def _edit_h5(path: Path, edit: Callable) -> None:
    """An artifact edited in place by hand (h5py), as no writer of ours would leave it."""
    with h5py.File(path, "a") as f:
        edit(f)


def _drop_final_metric(arrays: dict, attrs: dict) -> None:
    """A trained.h5 without the metric the table and `collect` read (other code, or edited)."""
    del attrs["final_metric"]


def _idx(arr: np.ndarray) -> bytes:
    code = {np.dtype(np.uint8): 0x08}[arr.dtype]
    head = bytes([0, 0, code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return head + arr.tobytes()


def _damaged_summary(path: Path) -> None:
    """A summary.nc as collect writes it, with one byte of test_metric's data flipped: a read
    without checksums returns another number for that cell, silently."""
    import h5py
    import xarray as xr

    from evotickets.analysis.collect import save

    metric = np.full((1, 1, 1, 2, 3), 0.5)
    dims = ("task", "strategy", "method", "seed", "iteration")
    save(xr.Dataset({"test_metric": (dims, metric)}), path)
    with h5py.File(path, "r") as f:
        offset = f["test_metric"].id.get_chunk_info(0).byte_offset
    data = bytearray(path.read_bytes())
    data[offset + 8] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncated_gzip() -> bytes:
    labels = np.random.default_rng(0).integers(0, 10, 600, dtype=np.uint8)
    packed = gzip.compress(_idx(labels))
    return packed[: len(packed) // 2]


def _mnist_dir(w: W, labels_name: str, labels_bytes: bytes) -> Path:
    d = w.scratch / "data" / "mnist"
    d.mkdir(parents=True)
    imgs = _idx(np.zeros((3, 28, 28), np.uint8))
    labs = _idx(np.zeros(3, np.uint8))
    for n in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte"):
        (d / n).write_bytes(imgs)
    (d / "t10k-labels-idx1-ubyte").write_bytes(labs)
    (d / labels_name).write_bytes(labels_bytes)
    data_mod.clear_cache()
    return d.parent


def _poison(w: W, values) -> None:
    """Make every member's fitness (or the first len(values) members') non-finite."""
    real = VisionTask.population_fitness

    def poisoned(self, population, key, data, state):
        f, state = real(self, population, key, data, state)
        v = jnp.asarray(values, f.dtype)
        return (f.at[: v.size].set(v) if v.ndim else jnp.full_like(f, v)), state

    w.mp.setattr(VisionTask, "population_fitness", poisoned)


def _nan_in_theta0(value: float) -> Callable[[W], None]:
    """An init.h5 (of this chain's settings) with one non-finite value among θ0's weights."""

    def change(arrays, attrs):
        k = "params/Conv_0/kernel"
        arrays[k] = arrays[k].copy()
        arrays[k].flat[5] = value

    return lambda w: _rewrite(w.init, w.init, change)


def _mask_from_other_network(w: W) -> None:
    """A mask from a setting with another network (cnn, 28×28 inputs), relabelled with this
    chain's digest as a transfer would do: its shapes cannot fit cnn_small."""
    other_init = w.scratch / "other/init.h5"
    _verb("init", "--settings", _init_settings(network="cnn"), "--out", str(other_init))
    arrays, _ = read_artifact(other_init, "init")
    _, mask_attrs = read_artifact(w.round(1, "mask.h5"), "mask")
    mask = {f"mask/{k[len('params/') :]}": np.ones_like(v, bool) for k, v in arrays.items()}
    forged = w.scratch / "transfer/mask.h5"
    attrs = {k: mask_attrs[k] for k in REQUIRED_ATTRS["mask"]}  # all but the shapes fit
    write_artifact(forged, "mask", mask, attrs, config_digest=mask_attrs["config_digest"], seed=0)


def _env(name: str, value: str, then: Callable[[W], None]) -> Callable[[W], None]:
    def run(w: W) -> None:
        w.mp.setenv(name, value)
        then(w)

    return run


BLOCKER = paths.round_file("blocker", "tiny", "digits", "snes", "magnitude", 0, 1)


def _block(w: W) -> None:
    (w.root / BLOCKER).write_text("a regular file where a folder should be\n")


def _unwritable(kind: str) -> Callable[[W], None]:
    def run(w: W) -> None:
        blocker = w.root / BLOCKER
        w.train(out=blocker / "trained.h5" if kind == "parent-is-file" else blocker / "x/t.h5")

    return run


# --- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    run: Callable[[W], None]  # the attempt that must fail
    error: type[BaseException]
    problem: tuple[str, ...]  # all must appear: what is wrong
    fix: tuple[str, ...]  # all must appear: what to do
    setup: Callable[[W], object] | None = None  # breaks an input before the hash is taken


def _set(key: str, value) -> Callable[[dict], None]:
    def mutate(cfg: dict) -> None:
        *parents, leaf = key.split(".")
        node = cfg
        for p in parents:
            node = node[p]
        node[leaf] = value

    return mutate


CASES = [
    # configs --------------------------------------------------------------------------------
    Case(
        "config-unknown-task",
        _config(lambda c: c["tasks"].update({"mnsit": {}})),
        ConfigError,
        ("unknown task 'mnsit'",),
        ("did you mean 'mnist'",),
    ),
    Case(
        "config-unknown-strategy",
        _config(lambda c: c["strategies"].update(snse=c["strategies"].pop("snes"))),
        ConfigError,
        ("unknown strategy 'snse'",),
        ("did you mean 'snes'",),
    ),
    Case(
        "config-unknown-method",
        _config(lambda c: c["methods"].append("magnitud")),
        ConfigError,
        ("unknown method 'magnitud'",),
        ("did you mean 'magnitude'",),
    ),
    Case(
        "config-unknown-key",
        _config(lambda c: c.update(round=c.pop("rounds"))),
        ConfigError,
        ("unknown config key 'round'",),
        ("did you mean 'rounds'",),
    ),
    Case(
        "config-unknown-es-key",
        _config(lambda c: c["es"].update(checkpoint_evry=10)),
        ConfigError,
        ("unknown key in es 'checkpoint_evry'",),
        ("allowed: log_every, num_generations",),
    ),
    Case(
        "config-p-zero",
        _config(_set("prune_fraction", 0)),
        ConfigError,
        ("prune_fraction", "less than or equal to the minimum of 0"),
        ("fix: set prune_fraction to a number > 0 and < 1",),
    ),
    Case(
        "config-p-one",
        _config(_set("prune_fraction", 1.0)),
        ConfigError,
        ("prune_fraction", "greater than or equal to the maximum of 1"),
        ("fix: set prune_fraction to a number > 0 and < 1",),
    ),
    Case(
        "config-rounds-zero",
        _config(_set("rounds", 0)),
        ConfigError,
        ("config key rounds: 0 is less than the minimum of 1",),
        ("fix: set rounds to an integer ≥ 1",),
    ),
    Case(
        "config-odd-population-antithetic",
        _config(lambda c: c["strategies"].update(pgpe={"population_size": 15, "std_init": 0.1})),
        ConfigError,
        ("strategies.pgpe.population_size is 15", "antithetic", "even population"),
        ("use 16",),
    ),
    Case(
        "config-std-init-zero",
        _config(_set("strategies.snes.std_init", 0)),
        ConfigError,
        ("strategies.snes.std_init", "minimum of 0"),
        ("fix: set strategies.snes.std_init to a number > 0",),
    ),
    Case(
        "config-std-init-negative",
        _config(_set("strategies.snes.std_init", -0.1)),
        ConfigError,
        ("strategies.snes.std_init: -0.1",),
        ("to a number > 0",),
    ),
    Case(
        "config-data-dir-missing",
        _config(
            lambda c: c.update(tasks={"mnist": {"network": "cnn"}}, data_dir="/nonexistent/mnist")
        ),
        ConfigError,
        ("data_dir '/nonexistent/mnist'", "/nonexistent/mnist", "does not exist"),
        ("point `data_dir`", "the directory that contains the dataset folders"),
    ),
    Case(
        "config-unsafe-yaml",
        lambda w: load_config(w.scratch / "evil.yaml"),
        ConfigError,
        ("is not valid YAML", "evil.yaml"),
        ("Fix the YAML syntax", "safe loader"),
        setup=lambda w: (w.scratch / "evil.yaml").write_text(
            "experiment: !!python/object/apply:os.getcwd []\n"
        ),
    ),
    Case(
        "config-empty-file",
        lambda w: load_config(w.scratch / "empty.yaml"),
        ConfigError,
        ("empty.yaml must hold a mapping of keys", "the file is empty"),
        ("see config/config.yaml for an example",),
        setup=lambda w: (w.scratch / "empty.yaml").write_text(""),
    ),
    Case(
        "config-a-list",
        lambda w: load_config(w.scratch / "list.yaml"),
        ConfigError,
        ("list.yaml must hold a mapping of keys, got a list",),
        ("see config/config.yaml for an example",),
        setup=lambda w: (w.scratch / "list.yaml").write_text("- seeds\n"),
    ),
    # data -----------------------------------------------------------------------------------
    Case(
        "data-wrong-checksum",
        lambda w: data_mod.load_dataset("mnist", w.scratch / "data", download=False),
        DataError,
        ("train-labels-idx1-ubyte: sha256 of the decompressed content is", "expected 65a50cbb"),
        ("Fix: delete", "so it is downloaded again"),
        setup=lambda w: _mnist_dir(w, "train-labels-idx1-ubyte", _idx(np.ones(3, np.uint8))),
    ),
    Case(
        "data-truncated-gzip",
        lambda w: data_mod.load_dataset("mnist", w.scratch / "data", download=False),
        DataError,
        ("is not a complete gzip file", "truncated"),
        ("Fix: delete", "so it is downloaded again"),
        setup=lambda w: _mnist_dir(w, "train-labels-idx1-ubyte.gz", _truncated_gzip()),
    ),
    Case(
        "data-labels-images-length-mismatch",
        lambda w: data_mod._load_idx_pair(w.scratch / "img", w.scratch / "lab"),
        DataError,
        ("holds 5 images but", "holds 4 labels", "does not belong together"),
        ("Fix: replace both files with the official pair",),
        setup=lambda w: (
            (w.scratch / "img").write_bytes(_idx(np.zeros((5, 4, 4), np.uint8))),
            (w.scratch / "lab").write_bytes(_idx(np.zeros(4, np.uint8))),
        ),
    ),
    Case(
        "data-dir-is-a-file",
        lambda w: data_mod.load_dataset("mnist", w.scratch / "not-a-dir", download=False),
        DataError,
        ("not-a-dir", "is a file, not a directory"),
        ("Fix: create it, or point `data_dir`",),
        setup=lambda w: (w.scratch / "not-a-dir").write_text("x"),
    ),
    Case(
        "config-tasks-a-list",
        _config(_set("tasks", ["digits"])),
        ConfigError,
        ("config key tasks: ['digits'] is not of type 'object'",),
        ("fix: set tasks to a mapping",),
    ),
    Case(
        "config-methods-a-string",
        _config(_set("methods", "random")),
        ConfigError,
        ("config key methods: 'random' is not of type 'array'",),
        ("fix: set methods to a list",),
    ),
    Case(
        "config-task-es-zero-generations",
        _config(_set("tasks.digits.es", {"num_generations": 0})),
        ConfigError,
        ("tasks.digits.es.num_generations", "minimum of 1"),
        ("fix: set tasks.digits.es.num_generations to an integer ≥ 1",),
    ),
    Case(
        "config-task-override-negative-population",
        _config(_set("tasks.digits.strategy_overrides", {"snes": {"population_size": -4}})),
        ConfigError,
        ("tasks.digits.strategy_overrides.snes.population_size", "minimum of 2"),
        ("to an integer ≥ 2",),
    ),
    Case(
        "config-task-override-null",
        _config(_set("tasks.digits.strategy_overrides", {"snes": None})),
        ConfigError,
        ("tasks.digits.strategy_overrides.snes: None is not of type 'object'",),
        ("fix: set",),
    ),
    Case(
        "config-prune-fraction-nan",
        _config(_set("prune_fraction", float("nan"))),
        ConfigError,
        ("config key prune_fraction is NaN",),
        ("fix: set a number",),
    ),
    Case(
        "config-no-chain-left",
        # snr_study runs for sep_cma_es only: listed for SNES it leaves SNES nothing
        _config(
            lambda c: (
                c["methods"].append("snr_study"),
                c.update(strategy_methods={"snes": ["snr_study"]}),
            )
        ),
        ConfigError,
        ("strategy_methods.snes lists 'snr_study', which runs for sep_cma_es only",),
        ("remove it from that list",),
    ),
    Case(
        "config-strategy-method-outside-methods",
        _config(_set("strategy_methods", {"snes": ["snip"]})),
        ConfigError,
        ("strategy_methods.snes lists ['snip'], which `methods` does not",),
        ("Add them to `methods`, or remove them from the list",),
    ),
    Case(
        "config-analysis-filter-typo",
        _config(_set("analyses.methods", ["snrr"])),
        ConfigError,
        ("unknown method in analyses.methods 'snrr'",),
        ("did you mean 'snr'",),
    ),
    Case(
        "config-experiment-dotdot",
        _config(_set("experiment", "..")),
        ConfigError,
        ("config key experiment: '..' does not match",),
        ("fix:",),
    ),
    Case(
        "config-file-is-a-directory",
        lambda w: load_config(w.scratch),
        ConfigError,
        ("is a directory",),
        ("pass a YAML file",),
    ),
    Case(
        "config-odd-population-in-a-task-override",
        _config(
            lambda c: (
                c["strategies"].update(pgpe={"population_size": 16, "std_init": 0.1}),
                _set("tasks.digits.strategy_overrides", {"pgpe": {"population_size": 15}})(c),
            )
        ),
        ConfigError,
        ("tasks.digits.strategy_overrides.pgpe.population_size is 15", "even population"),
        ("use 16",),
    ),
    Case(
        "config-es-batch-above-the-training-set",  # ran every job out of memory
        _config(_set("tasks.digits.batch_size", 10_000_000)),
        ConfigError,
        ("tasks.digits.batch_size is 10000000, more than the 1437 training examples",),
        ("set it to at most 1437",),
    ),
    Case(
        "config-gd-trainer-in-strategies",  # "unknown strategy", no word of the gd block
        _config(_set("strategies.gd_adam", {"lr": 0.001})),
        ConfigError,
        ("strategies lists gd_adam, a gradient-descent trainer",),
        ("move its settings to the gd block",),
    ),
    Case(
        "config-no-tasks",  # "see config.schema.yaml"
        _config(_set("tasks", {})),
        ConfigError,
        ("config key tasks: {} should be non-empty",),
        ("give tasks at least 1 entry",),
    ),
    Case(
        "config-override-of-a-strategy-the-task-does-not-run",
        _config(_set("tasks.digits.strategy_overrides", {"pgpe": {"population_size": 16}})),
        ConfigError,
        ("tasks.digits.strategy_overrides names pgpe", "does not run on task digits"),
        # an overlay narrowing the task's strategies cannot remove the override below it
        ("remove it, or add pgpe", "copy that config and edit it"),
    ),
    Case(
        "config-yte-template",  # snakemake rendered it, check-config refused the key
        lambda w: load_config(w.scratch / "yte.yaml"),
        ConfigError,
        ("yte.yaml sets __use_yte__", "does not render"),
        ("write the rendered values into the file",),
        setup=lambda w: (w.scratch / "yte.yaml").write_text(
            "experiment: tiny\nseeds: [0]\n__use_yte__: true\n"
        ),
    ),
    Case(
        "config-duplicate-key",
        lambda w: load_config(w.scratch / "twice.yaml"),
        ConfigError,
        ("twice.yaml", "the key 'seeds' is given twice", "lines 2 and 4"),
        ("keep one",),
        setup=lambda w: (w.scratch / "twice.yaml").write_text(
            "experiment: tiny\nseeds: [0]\nrounds: 2\nseeds: [1]\n"
        ),
    ),
    Case(
        "config-control-key-on-a-vision-task",
        _config(_set("tasks.digits.hidden", [16])),
        ConfigError,
        ("tasks.digits.hidden applies to control tasks only", "which would ignore it"),
        ("remove the key",),
    ),
    Case(
        "config-gd-strategy-on-no-task",
        _config(lambda c: c.update(gd={"gd_ppo": {}})),
        ConfigError,
        ("gd.gd_ppo runs on no task", "trains control tasks"),
        ("remove it, or add a task it runs on",),
    ),
    Case(
        "config-permutation-control-without-its-magnitude-chain",
        _config(
            lambda c: c.update(
                methods=["random", "magnitude", "snr", "mask_permuted"],
                strategy_methods={"snes": ["random", "mask_permuted", "snr"]},
            )
        ),
        ConfigError,
        ("snes on task digits runs ['mask_permuted']", "but not magnitude itself"),
        ("add magnitude to its methods",),
    ),
    Case(
        "config-transfer-from-a-strategy-its-task-does-not-run",
        _transfer_from_digits_b(
            "b_to_digits",
            "snes",
            ["pgpe"],
            strategies=lambda c: {
                **c["strategies"],
                "pgpe": {"population_size": 16, "std_init": 0.1},
            },
        ),
        ConfigError,
        ("transfer[0] (b_to_digits): source strategy snes does not run on task digits_b",),
        ("add it there",),
    ),
    Case(
        "config-transfer-from-gd-without-a-source-method",  # named snr, which nobody wrote
        _transfer_from_digits_b(
            "gd_to_es", "gd_adam", ["gd_adam"], gd=lambda c: {"gd_adam": {"epochs": 1}}
        ),
        ConfigError,
        ("transfer[0] (gd_to_es) (source.method unset, so its default snr",),
        ("set source.method to the method whose ticket to take",),
    ),
    Case(
        "artifact-collected-with-another-config",
        lambda w: _verb(
            "collect",
            str(paths.experiment(exp="tiny")),
            "--out",
            str(w.scratch / "s.nc"),
            "--config-json",
            json.dumps(validate_config(dict(TINY_CONFIG, es={**ES, "num_generations": 5}))),
        ),
        ArtifactError,
        ("iter00/trained.h5 was made from other settings than this config gives its chain",),
        ("report with the config the run used",),
    ),
    *(
        Case(
            f"{verb}-of-a-folder-with-another-experiments-config",  # labelled it as this one
            lambda w, verb=verb: _report_tiny(
                verb,
                w.scratch / f"{verb}.out",
                validate_config(dict(TINY_CONFIG, experiment="tiny-copy")),
            ),
            ConfigError,
            ("results/tiny is not the folder of this config's experiment 'tiny-copy'",),
            ("pass that run's config, or its folder",),
        )
        for verb in ("table", "collect")
    ),
    Case(
        "results-folder-typo-table",
        lambda w: _verb("table", "results/tyni"),
        ArtifactError,
        ("results/tyni is not a folder",),
        ("pass results/<experiment> of a run",),
    ),
    *(
        Case(
            f"results-folder-typo-collect{label}",
            _collect_typo(out),
            ArtifactError,
            ("results/tyni is not a folder",),
            ("the config's `experiment` is 'tiny'",),
        )
        for label, out in (
            ("", lambda w: str(w.scratch / "s.nc")),
            ("-out-inside-it", lambda w: "results/tyni/summary.nc"),  # not made by --out
        )
    ),
    Case(
        "results-folder-typo-table-out-inside-it",
        lambda w: _verb("table", "results/tyni", "--out", "results/tyni/accuracy_table.txt"),
        ArtifactError,
        ("results/tyni is not a folder",),
        ("pass results/<experiment> of a run",),
    ),
    Case(
        "settings-json-not-a-chains",
        lambda w: _scratch_mask(w, "{}"),
        ValueError,
        ("--settings is not a ChainSettings JSON", "'task'"),
        ("snakemake -n -p",),
    ),
    Case(
        "init-settings-unknown-scheme",  # a KeyError: 'he' inside networks before
        lambda w: _verb(
            "init",
            "--settings",
            json.dumps(dict(json.loads(_init_settings()), init="he")),
            "--out",
            str(w.scratch / "i.h5"),
        ),
        ValueError,
        ("--settings names an unknown init scheme 'he'", "he_normal"),
        ("snakemake -n -p",),
    ),
    Case(
        "init-settings-empty-hidden-layer",  # a ZeroDivisionError inside JAX's initialisers
        lambda w: _verb(
            "init",
            "--settings",
            json.dumps(
                {
                    "task": "pendulum",
                    "network": "mlp",
                    "prune_output_layer": True,
                    "seed": 0,
                    "hidden": [0],
                }
            ),
            "--out",
            str(w.scratch / "i.h5"),
        ),
        ValueError,
        ("--settings gives hidden sizes [0]", "each of at least 1 unit"),
        ("snakemake -n -p",),
    ),
    Case(
        "settings-json-unknown-method",
        lambda w: _scratch_mask(w, json.dumps(dict(json.loads(_settings()), method="snrr"))),
        # a KeyError: 'snrr' before
        ValueError,
        ("--settings names an unknown method 'snrr'",),
        ("snakemake -n -p",),
    ),
    Case(
        "round-keeps-no-prunable-weight",  # it trained the biases alone, every method alike
        lambda w: _scratch_mask(w, _settings(prune_fraction=0.9999)),
        ValueError,
        ("round 1 would keep 0 of its 1864 prunable weights", "biases alone"),
        ("set rounds to at most 1", "lower prune_fraction"),
    ),
    Case(
        "round-one-prunes-no-weight",  # every method's round 1 trained the dense mask
        lambda w: _scratch_mask(w, _settings(prune_fraction=0.0002)),
        ValueError,
        ("round 1 would keep all 1864 prunable weights", "reads 0 by construction"),
        ("set prune_fraction above 1/(2·1864) = 0.00026824",),
    ),
    Case(
        "analysis-json-not-json-lmc",  # it blamed --settings
        lambda w: _verb(
            "lmc",
            "--settings",
            _settings(),
            "--init",
            str(w.init),
            "--analysis",
            "{bad",
            "--out",
            str(w.scratch / "l.h5"),
            "--kind",
            "consecutive",
            "--left",
            str(w.round(0, "trained.h5")),
            "--right",
            str(w.round(1, "trained.h5")),
        ),
        ValueError,
        ("--analysis is not JSON",),
        ("'{bad'",),
    ),
    # reporting verbs' outputs and config, checked before any reading ---------------------------
    Case(
        "config-json-not-json-table",
        lambda w: _verb("table", paths.experiment(exp="tiny"), "--config-json", "{nope"),
        ConfigError,
        ("--config-json is not JSON",),
        ("--configfile <the run's config>",),
    ),
    Case(
        "config-json-not-a-config-table",
        lambda w: _verb("table", paths.experiment(exp="tiny"), "--config-json", "{}"),
        ConfigError,
        ("--config-json:", "'experiment' is a required property"),
        ("--configfile <the run's config>",),
    ),
    Case(
        # the folder above an experiment: "no finished round under results", 18 rounds below
        "table-of-the-folder-above-an-experiment",
        lambda w: _verb("table", str(w.scratch / "results")),
        ArtifactError,
        ("is not an experiment folder, though it holds trained rounds",),
        ("pass the results folder of their run", "scratch/results/exp-a"),
        setup=lambda w: (
            (w.scratch / "results/exp-a/digits/snes/random/seed0/iter00").mkdir(parents=True),
            shutil.copy(
                w.round(0, "trained.h5"),
                w.scratch / "results/exp-a/digits/snes/random/seed0/iter00/trained.h5",
            ),
        ),
    ),
    Case(
        "table-of-a-folder-without-rounds",
        lambda w: _verb("table", str(w.scratch)),
        ArtifactError,
        ("no finished round under", "scratch"),
        ("run the workflow first",),
    ),
    Case(
        # an all-NaN summary would replace the finished one at --out
        "collect-of-a-folder-without-its-rounds-keeps-out",
        lambda w: _verb(
            "collect",
            str(w.scratch / "tiny"),  # the experiment's name, none of its rounds
            "--config-json",
            json.dumps(_cfg()),
            "--out",
            paths.experiment_file("summary.nc", "tiny"),
        ),
        ArtifactError,
        ("no finished round that the config asks for", "is left as it is"),
        ("run the workflow first",),
        setup=lambda w: (
            (w.scratch / "tiny").mkdir(),
            Path(paths.experiment_file("summary.nc", "tiny")).write_bytes(b"kept"),
        ),
    ),
    Case(
        "out-is-an-artifact-table",  # the table's text replaced a trained.h5
        lambda w: _verb(
            "table", paths.experiment(exp="tiny"), "--out", str(w.round(0, "trained.h5"))
        ),
        ArtifactError,
        ("cannot write a table artifact to", "iter00/trained.h5: it holds a trained artifact"),
        ("name the output this verb makes (--out)",),
    ),
    Case(
        "out-is-a-summary-table",  # the table's text replaced a finished summary.nc
        lambda w: _verb("table", paths.experiment(exp="tiny"), "--out", str(_summary(w))),
        ArtifactError,
        ("cannot write a table artifact to", "summary.nc: it holds a summary artifact"),
        ("name the output this verb makes (--out)",),
        setup=lambda w: _summary(w, write=True),
    ),
    Case(
        "out-is-a-directory-figure",
        lambda w: _verb("figure", "fig3", "--summary", "nope.nc", "--out", str(w.scratch)),
        ArtifactError,
        ("scratch: it is a directory",),
        ("name a file",),
    ),
    Case(
        "out-is-a-directory-collect",
        lambda w: _verb(
            "collect",
            paths.experiment(exp="tiny"),
            "--config-json",
            json.dumps(_cfg()),
            "--out",
            str(w.scratch),
        ),
        ArtifactError,
        ("scratch: it is a directory",),
        ("name a file",),
    ),
    Case(
        "out-under-a-file-table",
        lambda w: _verb("table", paths.experiment(exp="tiny"), "--out", str(w.init / "t.txt")),
        ArtifactError,
        ("cannot write", "init.h5/t.txt"),
        ("no parent is a regular file",),
    ),
    # summary.nc, read by the figure and claims verbs -------------------------------------------
    Case(
        "summary-missing-figure",
        lambda w: _verb("figure", "fig3", "--summary", "nope.nc", "--out", "f.png"),
        ArtifactError,
        ("nope.nc does not exist",),
        # `-- nope.nc` was offered as a target: no rule makes it
        ("-- results/<experiment>/summary.nc` (rule collect) and pass that",),
    ),
    Case(
        "summary-missing-in-results-figure",
        lambda w: _verb("figure", "fig3", "--summary", "results/exp/summary.nc", "--out", "f.png"),
        ArtifactError,
        ("results/exp/summary.nc does not exist",),
        ("snakemake --cores 2 --configfile <the run's config> -- results/exp/summary.nc`",),
    ),
    Case(
        "summary-truncated-claims",
        lambda w: _verb("claims", str(w.scratch)),
        ArtifactError,
        ("summary.nc cannot be read as netCDF", "truncated, damaged or not a summary"),
        ("delete it", "rule collect"),
        setup=lambda w: (w.scratch / "summary.nc").write_bytes(b"\x89HDF\r\n\x1a\n" + b"0" * 64),
    ),
    Case(
        "summary-damaged-block-figure",
        lambda w: _verb(
            "figure", "fig2", "--summary", str(w.scratch / "summary.nc"), "--out", "f.png"
        ),
        ArtifactError,
        ("summary.nc cannot be read as netCDF", "filter returned failure", "damaged"),
        ("delete it", "rule collect"),
        setup=lambda w: _damaged_summary(w.scratch / "summary.nc"),
    ),
    Case(
        "summary-is-claims-nc",
        lambda w: _verb("claims", str(w.scratch), "--summary", str(w.scratch / "claims.nc")),
        ArtifactError,
        ("is not a summary.nc", "no test_metric"),
        # the remake hint named claims.nc as the target of rule collect
        ("pass results/<experiment>/summary.nc", "-- results/<experiment>/summary.nc` (rule"),
        setup=lambda w: _claims_like(w.scratch / "claims.nc"),
    ),
    Case(
        "summary-nc-without-its-metric-claims",  # "make it" named the file already there
        lambda w: _verb("claims", str(w.scratch)),
        ArtifactError,
        ("summary.nc is not a summary.nc (it has no test_metric",),
        ("/scratch/summary.nc and make it with `snakemake", "delete"),
        setup=lambda w: _claims_like(w.scratch / "summary.nc"),
    ),
    Case(
        "summary-without-remaining-fraction-claims",  # an AttributeError's traceback before
        lambda w: _verb("claims", str(w.scratch)),
        ArtifactError,
        ("summary.nc is not a whole summary.nc (no remaining_fraction", "edited, damaged"),
        ("delete it", "rule collect"),
        setup=lambda w: _summary_with(w, lacking=("remaining_fraction",)),
    ),
    Case(
        "summary-trained-on-not-json-claims",  # a bare "Expecting value" before
        lambda w: _verb("claims", str(w.scratch)),
        ArtifactError,
        ("attribute trained_on is not the JSON collect writes",),
        ("delete it", "rule collect"),
        setup=lambda w: _summary_with(w, trained_on="cpu, 2 cores"),
    ),
    Case(
        "figure-over-another-figures-file",  # fig1 silently replaced fig2
        lambda w: _verb(
            "figure", "fig1", "--summary", str(_summary(w)), "--out", str(w.scratch / "fig2.png")
        ),
        ArtifactError,
        ("cannot draw fig1 to", "that file is fig2's"),
        ("name this figure's own file", "fig1.png"),
        setup=lambda w: (_summary(w, write=True), (w.scratch / "fig2.png").write_bytes(b"\x89PNG")),
    ),
    *(
        Case(
            f"{verb}-over-a-file-without-a-suffix",  # the Snakefile was replaced, exit 0
            run,
            ArtifactError,
            ("it is an existing file that is not one",),
            ("name the output this verb makes (--out)",),
            setup=lambda w: (
                _summary(w, write=True),
                (w.scratch / "Snakefile").write_text("rule all:\n"),
            ),
        )
        for verb, run in (
            (
                "table",
                lambda w: _verb(
                    "table", paths.experiment(exp="tiny"), "--out", str(w.scratch / "Snakefile")
                ),
            ),
            (
                "figure",
                lambda w: _verb(
                    "figure",
                    "fig1",
                    "--summary",
                    str(_summary(w)),
                    "--out",
                    str(w.scratch / "Snakefile"),
                ),
            ),
        )
    ),
    Case(  # a config named by mistake as the results folder
        "claims-results-is-a-file",
        lambda w: _verb("claims", str(w.scratch / "tiny.yaml")),
        ArtifactError,
        ("tiny.yaml is not a folder",),
        ("pass results/<experiment> of a run",),
        setup=lambda w: (w.scratch / "tiny.yaml").write_text("seeds: [0]\n"),
    ),
    Case(  # a group member's round is checked as --round is
        "members-negative-round",
        lambda w: __import__("evotickets.commands.group", fromlist=["x"]).parse_members(
            '[{"settings": {}, "round": -1}]', ("settings", "round"), ()
        ),
        ValueError,
        ("member 1 of --members: round", "'-1' is not a round index"),
        ("an integer ≥ 0",),
    ),
    Case(  # IsADirectoryError at the first save, mid-round, the round not written
        "checkpoint-path-is-a-folder",
        lambda w: w.train(1, out=w.scratch / "trained.h5"),
        ValueError,
        ("the mid-round checkpoint", "trained.ckpt.h5 is a folder"),
        ("move it away",),
        setup=lambda w: (w.scratch / "trained.ckpt.h5").mkdir(),
    ),
    Case(  # vmapped, the chain trained twice and recorded group_width 2
        "members-listed-twice",
        lambda w: __import__("evotickets.commands.group", fromlist=["x"]).parse_members(
            '[{"settings": {}, "round": 1, "out": "a/trained.h5"},'
            ' {"settings": {}, "round": 1, "out": "a/../a/trained.h5"}]',
            ("settings", "round", "out"),
            (),
        ),
        ValueError,
        ("members 1 and 2 of --members both write a/../a/trained.h5",),
        ("list each chain's round once",),
    ),
    Case(  # a config named by mistake: the message must not say "delete it"
        "summary-is-a-config",
        lambda w: _verb(
            "figure",
            "fig3",
            "--summary",
            str(w.scratch / "tiny.yaml"),
            "--out",
            str(w.scratch / "f.png"),
        ),
        ArtifactError,
        ("tiny.yaml is not a summary.nc",),
        ("pass results/<experiment>/summary.nc",),
        setup=lambda w: (w.scratch / "tiny.yaml").write_text("seeds: [0]\n"),
    ),
    Case(
        "summary-is-a-folder",
        lambda w: _verb(
            "figure", "fig3", "--summary", str(w.scratch), "--out", str(w.scratch / "f.png")
        ),
        ArtifactError,
        ("is a folder",),
        ("pass its summary.nc",),
    ),
    # artifacts ------------------------------------------------------------------------------
    Case(
        "artifact-truncated-trained",
        lambda w: w.mask(round_=1),
        ArtifactError,
        ("unreadable artifact", "iter00/trained.h5", "truncated, damaged or not HDF5"),
        ("delete", "rerun its rule `train`"),
        setup=lambda w: _truncate(w.round(0, "trained.h5")),
    ),
    Case(
        "artifact-trained-with-nan-theta",
        lambda w: w.mask(round_=1),
        ArtifactError,
        ("iter00/trained.h5: 1 of its active weights have a NaN or infinite magnitude score",),
        ("delete it and rerun its rule `train`",),
        setup=lambda w: _rewrite(w.round(0, "trained.h5"), w.round(0, "trained.h5"), _nan_kernel),
    ),
    Case(
        "artifact-truncated-trained-read-by-table",
        lambda w: _verb("table", paths.experiment(exp="tiny")),
        ArtifactError,
        ("unreadable artifact", "iter00/trained.h5"),
        ("rerun its rule `train`",),
        setup=lambda w: _truncate(w.round(0, "trained.h5")),
    ),
    Case(
        "artifact-trained-without-a-mask-tensor",  # a KeyError: 'Conv_0/bias' before
        lambda w: w.mask(round_=1),
        ArtifactError,
        ("mask of", "iter00/trained.h5 does not fit the network", "bias is missing"),
        ("delete it and rerun rule `train`",),
        setup=lambda w: _rewrite(
            w.round(0, "trained.h5"), w.round(0, "trained.h5"), _drop_a_mask_tensor
        ),
    ),
    Case(
        "artifact-trained-without-its-round",  # a KeyError: 'round' before
        lambda w: w.mask(round_=1),
        ArtifactError,
        ("iter00/trained.h5 has no attribute 'round'",),
        ("rerun its rule `train`",),
        setup=lambda w: _rewrite(w.round(0, "trained.h5"), w.round(0, "trained.h5"), _drop_round),
    ),
    Case(
        "artifact-trained-without-its-metric-read-by-table",  # a bare KeyError before
        lambda w: _verb("table", paths.experiment(exp="tiny")),
        ArtifactError,
        ("iter00/trained.h5 has no attribute 'final_metric'",),
        ("rerun its rule `train`",),
        setup=lambda w: _rewrite(
            w.round(0, "trained.h5"), w.round(0, "trained.h5"), _drop_final_metric
        ),
    ),
    Case(
        "artifact-trained-metric-not-a-number-read-by-table",  # "could not convert" before
        lambda w: _verb("table", paths.experiment(exp="tiny")),
        ArtifactError,
        ("iter00/trained.h5's attribute 'final_metric' is 'high', not a number",),
        ("rerun its rule `train`",),
        setup=lambda w: _edit_h5(
            w.round(0, "trained.h5"), lambda f: f.attrs.create("final_metric", "high")
        ),
    ),
    Case(
        "artifact-trained-without-its-mask-read-by-collect",  # "masks of different networks"
        _collect_tiny,
        ArtifactError,
        ("iter00/trained.h5 has no mask arrays",),
        ("rerun its rule `train`",),
        setup=lambda w: _edit_h5(w.round(0, "trained.h5"), lambda f: f.__delitem__("mask")),
    ),
    Case(
        "artifact-trained-without-its-digest-read-by-collect",  # "other settings … None ≠"
        _collect_tiny,
        ArtifactError,
        ("iter00/trained.h5 has no attribute 'config_digest'",),
        ("rerun its rule `train`",),
        setup=lambda w: _edit_h5(
            w.round(0, "trained.h5"), lambda f: f.attrs.__delitem__("config_digest")
        ),
    ),
    Case(
        "artifact-copied-into-another-chains-folder-read-by-table",  # counted there: wrong n
        lambda w: _verb("table", paths.experiment(exp="tiny")),
        ArtifactError,
        ("snr/seed0/iter00/trained.h5 sits in the folder of method snr but records magnitude",),
        ("delete it and rerun the workflow",),
        setup=lambda w: _copy_to(
            w.round(0, "trained.h5"),
            w.root / paths.round_file("trained.h5", "tiny", "digits", "snes", "snr", 0, 0),
        ),
    ),
    Case(
        "artifact-not-hdf5-init",
        lambda w: w.train(),
        ArtifactError,
        ("unreadable artifact", "init.h5"),
        ("rerun its rule `init`",),
        setup=lambda w: w.init.write_text("garbage\n" * 100),
    ),
    Case(
        "artifact-wrong-schema-version",
        lambda w: w.mask(round_=1),
        ArtifactError,
        ("has schema 'evotickets.trained/0', expected 'evotickets.trained/1'",),
        ("rerun its rule `train`",),
        setup=lambda w: _set_attr(w.round(0, "trained.h5"), "schema", "evotickets.trained/0"),
    ),
    Case(
        "artifact-of-another-kind",  # a good mask.h5 where a trained.h5 belongs: keep it
        lambda w: w.mask(round_=1, prev=w.round(0, "mask.h5")),
        ArtifactError,
        ("iter00/mask.h5 is a mask artifact", "not a trained one"),
        ("keep it", "pass the trained artifact"),
    ),
    Case(
        "out-is-an-input-mask",  # the trained.h5 was replaced by a mask
        lambda w: w.mask(round_=1, out=w.round(0, "trained.h5")),
        ArtifactError,
        ("iter00/trained.h5: it is an input of this verb as well",),
        ("name another output (--out)",),
    ),
    Case(
        "out-holds-an-artifact-of-another-kind-mask",
        lambda w: w.mask(round_=1, out=w.scratch / "trained.h5"),
        ArtifactError,
        ("cannot write a mask artifact to", "scratch/trained.h5: it holds a trained artifact"),
        ("name the output this verb makes (--out)",),
        setup=lambda w: shutil.copy(w.round(0, "trained.h5"), w.scratch / "trained.h5"),
    ),
    Case(
        "unused-input-missing-train",  # it trained the whole round, then failed writing it
        lambda w: _verb(
            "train",
            "--settings",
            _settings(),
            "--round",
            "0",
            "--init",
            str(w.init),
            "--mask",
            str(w.round(0, "mask.h5")),
            "--out",
            str(w.scratch / "t.h5"),
            "--rewind-from",
            str(w.scratch / "missing.h5"),
        ),
        ValueError,  # refused as an option this round does not use, before its file is read
        ("--rewind-from is for the later rounds", "round 0 trains from θ0"),
        ("leave it out",),
    ),
    Case(
        "unused-input-missing-mask",  # random reads no previous round; it was "truncated"
        lambda w: _verb(
            "mask",
            "--settings",
            _settings(method="random"),
            "--round",
            "1",
            "--init",
            str(w.init),
            "--prev-trained",
            str(w.scratch / "missing.h5"),
            "--out",
            str(w.scratch / "m.h5"),
        ),
        ArtifactError,
        ("missing input", "missing.h5"),
        ("pass an existing file, or leave out an option",),
    ),
    Case(
        "out-is-an-input-train",  # refused before the round trains
        lambda w: w.train(out=w.round(1, "mask.h5")),
        ArtifactError,
        ("iter01/mask.h5: it is an input of this verb as well",),
        ("name another output (--out)",),
    ),
    Case(
        "artifact-digest-mismatch-mask",
        lambda w: w.train(settings=_settings(method="snr")),
        ArtifactError,
        ("iter01/mask.h5 was made from other settings", "config_digest"),
        ("rerun its rule `train`",),
    ),
    Case(
        "artifact-digest-mismatch-init",
        lambda w: w.train(settings=_settings(seed=1)),
        ArtifactError,
        ("init.h5 was made from other settings",),
        ("pass this chain's instead (it may be a good file: keep it)", "rerun its rule `init`"),
    ),
    Case(
        "artifact-mask-from-another-network",
        lambda w: w.train(mask=w.scratch / "transfer/mask.h5"),
        ArtifactError,
        ("does not fit the network", "Conv_0/kernel has shape (5, 5, 1, 8)", "needs (3, 3, 1, 8)"),
        ("rerun rule `train`",),
        setup=_mask_from_other_network,
    ),
    Case(
        "artifact-mask-of-another-round",
        lambda w: w.train(round_=1, mask=w.round(0, "mask.h5")),
        ArtifactError,
        ("iter00/mask.h5 is round 0, expected 1",),
        ("pass iter01/mask.h5", "rule `train`"),
    ),
    Case(
        "artifact-trained-of-another-round",  # round 2's mask pruned from round 0's weights
        lambda w: w.mask(round_=2, prev=w.round(0, "trained.h5"), out=w.scratch / "m.h5"),
        ArtifactError,
        ("iter00/trained.h5 is round 0, need 1",),
        ("pass iter01/trained.h5 of this chain", "rule `train`"),
    ),
    Case(
        "artifact-digest-mismatch-prev-trained",  # pruned from another setting's weights
        lambda w: w.mask(round_=1, settings=_settings(prune_fraction=0.5), out=w.scratch / "m.h5"),
        ArtifactError,
        ("iter00/trained.h5 was made from other settings", "config_digest"),
        ("rerun its rule `train`",),
    ),
    Case(
        "artifact-missing-mask",
        lambda w: w.train(round_=2),
        ArtifactError,
        ("missing artifact", "iter02/mask.h5"),
        ("rerun its rule `train`", "snakemake"),
    ),
    # numerics -------------------------------------------------------------------------------
    Case(
        "numerics-all-members-nan",
        lambda w: w.train(),
        AllMembersFailed,
        ("every member of generation 0 had a NaN/inf fitness", "instead of writing"),
        ("Lower std_init", "check θ0 and the data"),
        setup=lambda w: _poison(w, jnp.nan),
    ),
    Case(
        "numerics-all-members-plus-inf",
        lambda w: w.train(),
        AllMembersFailed,
        ("every member of generation 0",),
        ("Lower std_init",),
        setup=lambda w: _poison(w, jnp.inf),
    ),
    Case(
        "numerics-all-members-minus-inf",
        lambda w: w.train(),
        AllMembersFailed,
        ("every member of generation 0",),
        ("Lower std_init",),
        setup=lambda w: _poison(w, -jnp.inf),
    ),
    Case(
        "numerics-nan-in-theta0",
        lambda w: w.train(),
        ValueError,
        ("θ0 has 1 NaN/inf values among the active weights",),
        ("rerun rule `init`",),
        setup=_nan_in_theta0(np.nan),
    ),
    Case(
        "numerics-inf-in-theta0",
        lambda w: w.train(),
        ValueError,
        ("θ0 has 1 NaN/inf values",),
        ("rerun rule `init`",),
        setup=_nan_in_theta0(np.inf),
    ),
    # environment ----------------------------------------------------------------------------
    Case(
        "env-gpu-requested-none-present",
        _env("EVOTICKETS_PLATFORM", "gpu", lambda w: w.train()),
        PlatformError,
        ("a GPU was asked for", "JAX sees only cpu devices"),
        ("pip install -e '.[gpu]'", "resources.gpu: 0"),
    ),
    Case(
        "env-slurm-gave-gpus-jax-has-none",
        _env("SLURM_GPUS_ON_NODE", "1", lambda w: w.train()),
        PlatformError,
        ("SLURM gave this job 1 GPU(s)", "only cpu devices"),
        ("pip install -e '.[gpu]'",),
    ),
    Case(
        "env-unknown-platform",
        _env("EVOTICKETS_PLATFORM", "tpu", lambda w: w.train()),
        PlatformError,
        ("EVOTICKETS_PLATFORM='tpu' is not a platform",),
        ("one of ('cpu', 'gpu')",),
    ),
    *(
        Case(
            f"env-cpu-devices-{value}",  # 'abc': a bare int() error; 0: one device, no word
            _env("EVOTICKETS_CPU_DEVICES", value, lambda w: w.train()),
            PlatformError,
            (f"EVOTICKETS_CPU_DEVICES='{value}': give a whole number of host devices ≥ 1",),
            ("or unset it for one",),
        )
        for value in ("abc", "0", "1.5")
    ),
    Case(
        "env-jax-cache-is-a-file",  # FileExistsError after the round's mask
        _env("EVOTICKETS_JAX_CACHE", "scratch/cache", lambda w: w.train()),
        PlatformError,
        ("the JAX compilation cache scratch/cache is not a folder",),
        ("set jax_cache_dir (or EVOTICKETS_JAX_CACHE) to a folder",),
        setup=lambda w: (w.scratch / "cache").write_text("not a folder\n"),
    ),
    Case(
        "config-jax-cache-dir-is-a-file",  # passed the config check; failed every job
        _config(lambda c: c.update(jax_cache_dir="scratch/cache")),
        ConfigError,
        ("jax_cache_dir 'scratch/cache' is a file, not a folder",),
        ("name a folder",),
        setup=lambda w: (w.scratch / "cache").write_text("not a folder\n"),
    ),
    Case(
        "env-results-dir-not-writable",
        _unwritable("under-a-file"),
        ArtifactError,
        ("cannot write", "is not writable"),
        ("Fix: make", "writable directory", "no parent is a regular file"),
        setup=_block,
    ),
    Case(
        "env-results-dir-is-a-file",
        _unwritable("parent-is-file"),
        ArtifactError,
        ("blocker is not writable",),
        ("Fix: make",),
        setup=_block,
    ),
    Case(
        "env-checkpoint-every-negative",
        _env("EVOTICKETS_CHECKPOINT_EVERY", "-5", lambda w: _verb_train_env_cadence(w)),
        ValueError,
        ("EVOTICKETS_CHECKPOINT_EVERY='-5'",),
        ("a whole number ≥ 1, or 0 to disable", "or unset it"),
    ),
    Case(
        "env-checkpoint-every-not-a-number",
        _env("EVOTICKETS_CHECKPOINT_EVERY", "ten", lambda w: _verb_train_env_cadence(w)),
        ValueError,
        ("EVOTICKETS_CHECKPOINT_EVERY='ten'",),
        ("a whole number ≥ 1, or 0 to disable",),
    ),
]


def _set_attr(path: Path, key: str, value) -> None:
    with h5py.File(path, "r+") as f:
        f.attrs[key] = value


def _verb_train_env_cadence(w: W) -> None:
    """train without --checkpoint-every, so the environment's cadence is used."""
    _verb(
        "train", "--settings", _settings(), "--round", "1", "--init", str(w.init),
        "--mask", str(w.round(1, "mask.h5")), "--out", str(w.round(1, "trained.h5")),
    )  # fmt: skip


def _digest_tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / paths.RESULTS).rglob("*"))
        if p.is_file()
    }


def test_collect_with_the_runs_config_reads_its_artifacts(workspace: W):
    """The counterpart of case artifact-collected-with-another-config: the run's own config
    collects (round 0 of the magnitude chain of seed 0 is there, the rest NaN)."""
    from evotickets.analysis.collect import collect

    ds = collect(_cfg(), paths.experiment(exp="tiny"))
    cell = ds.test_metric.sel({"task": "digits", "strategy": "snes", "method": "magnitude"})
    assert (
        np.isfinite(cell.sel(seed=0, iteration=0)) and int(np.isfinite(ds.test_metric).sum()) == 1
    )


def test_every_help_text_renders():
    """`evotickets --help` and each verb's help format without error (argparse reads % in
    them as a format code: '95 % CI' broke the top-level help)."""
    parser = cli.build_parser()
    assert "claims" in parser.format_help()
    (verbs,) = [a for a in parser._actions if a.choices and "claims" in a.choices]
    for name, sub in verbs.choices.items():
        assert sub.format_help(), name
    assert "95 % CI" in " ".join(parser.format_help().split())


@pytest.mark.parametrize("bad", ["-1", "one"])
def test_a_negative_or_non_integer_round_is_a_usage_error(bad, capsys):
    with pytest.raises(SystemExit) as info:
        cli.build_parser().parse_args(["mask", "--settings", "{}", "--round", bad, "--init",
                                       "i.h5", "--out", "m.h5"])  # fmt: skip
    assert info.value.code == 2
    assert "argument --round" in capsys.readouterr().err


def test_the_table_has_at_least_25_cases():
    assert len(CASES) >= 25
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.fixture
def workspace(finished, tmp_path, monkeypatch) -> W:
    root = tmp_path / "w"
    shutil.copytree(finished, root)
    monkeypatch.chdir(root)
    for var in (
        "EVOTICKETS_PLATFORM",
        "SLURM_GPUS_ON_NODE",
        "EVOTICKETS_CHECKPOINT_EVERY",
        "EVOTICKETS_CHECKPOINT_SECONDS",
        "EVOTICKETS_DATA_DIR",
    ):
        monkeypatch.delenv(var, raising=False)
    yield W(root, monkeypatch)
    data_mod.clear_cache()


def test_a_bad_out_is_refused_before_the_round_trains(workspace: W):
    """Case out-is-an-input-train's error comes before the round's training, not after it
    (the error alone is the same either way, hours later)."""
    from evotickets.commands import chain

    workspace.mp.setattr(chain, "train_prepared", lambda *a, **k: pytest.fail("trained first"))
    with pytest.raises(ArtifactError, match="it is an input of this verb as well"):
        workspace.train(out=workspace.round(1, "mask.h5"))


def test_a_results_folder_may_be_a_link_to_scratch_space(workspace: W):
    """results/<experiment> linked to where the data lives: its name is the experiment's,
    wherever the link leads (the folder check read the target's name and refused it)."""
    store = workspace.scratch / "run42"
    Path(paths.experiment(exp="tiny")).rename(store)
    Path(paths.experiment(exp="tiny")).symlink_to(store.resolve())
    out = workspace.scratch / "table.txt"
    _report_tiny("table", out)
    assert "round remaining" in out.read_text()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, workspace: W):
    if case.setup:
        case.setup(workspace)
    before = _digest_tree(workspace.root)
    with pytest.raises(case.error) as info:
        case.run(workspace)
    msg = str(info.value)
    for s in case.problem:
        assert s in msg, f"problem {s!r} not named in: {msg}"
    for s in case.fix:
        assert s in msg, f"fix {s!r} not named in: {msg}"
    assert _digest_tree(workspace.root) == before  # nothing changed, created or deleted


# --- numerics that are not errors: counted and reported in the artifact ------------------------


@pytest.mark.parametrize(
    ("values", "per_generation"),
    [([jnp.nan, jnp.nan, jnp.nan], 3), ([jnp.inf, -jnp.inf], 2)],
    ids=["some-nan", "plus-minus-inf"],
)
def test_some_nonfinite_members_count_as_worst_and_are_reported(
    workspace: W, values, per_generation
):
    _poison(workspace, values)
    out = workspace.round(1, "trained.h5")
    workspace.train()
    arrays, attrs = read_artifact(out, "trained")
    assert arrays["curves/nonfinite_count"].tolist() == [per_generation] * ES["num_generations"]
    assert attrs["nonfinite_total"] == per_generation * ES["num_generations"]
    for k in ("params/Conv_0/kernel", "sigma/Conv_0/kernel", "curves/best_fitness"):
        assert np.all(np.isfinite(arrays[k])), k
