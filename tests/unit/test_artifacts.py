"""Tests for evotickets.artifacts: round trips readable by plain h5py, atomic writes, every way a
file can be broken (truncated, not HDF5, missing, other schema, other settings), and the CLI
refusing artifacts that do not belong to the chain without touching its inputs or outputs."""

from __future__ import annotations

import copy
import errno
import json
import os
import re
import time
import types
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import TINY_CONFIG

from evotickets import __version__
from evotickets.artifacts import KINDS, ArtifactError, group, read_artifact, write_artifact
from evotickets.cli import main
from evotickets.config import chain_settings, validate_config

ARRAYS = {
    "params/Conv_0/kernel": np.arange(2 * 3 * 1 * 4, dtype=np.float32).reshape(2, 3, 1, 4),
    "params/Conv_0/bias": np.linspace(-1, 1, 4, dtype=np.float32),
    "params/Dense_0/kernel": np.eye(3, 5, dtype=np.float64),
    "mask/Conv_0/kernel": np.array([[True, False, True], [False, False, True]]),
    "curves/best_fitness": np.array([3.0, 2.5, np.inf, 1.0]),
    "layer_kept/Conv_0/kernel": np.int64(17),
}
ATTRS = {
    "round": 3,
    "task": "digits",
    "strategy": "snes",
    "method": "snr",
    "metric_name": "test_accuracy",
    "final_metric": 0.9,
    "kept_prunable": 2048,
    "remaining_fraction": 0.512,
    "prune_output_layer": True,
}
PROVENANCE = (
    "schema",
    "evotickets_version",
    "config_digest",
    "seed",
    "created",
    "jax_version",
    "evosax_version",
)


def _write(path, kind="trained", arrays=ARRAYS, attrs=ATTRS, digest="abc123", seed=7):
    return write_artifact(path, kind, arrays, attrs, config_digest=digest, seed=seed)


# --- round trip --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_round_trip(tmp_path, kind):
    path = _write(tmp_path / "sub" / "dir" / f"{kind}.h5", kind=kind)
    assert path == tmp_path / "sub" / "dir" / f"{kind}.h5"
    arrays, attrs = read_artifact(path, kind, expected_digest="abc123")
    assert set(arrays) == set(ARRAYS)
    for name, value in ARRAYS.items():
        np.testing.assert_array_equal(arrays[name], value)
        assert arrays[name].dtype == np.asarray(value).dtype, name
        assert np.shape(arrays[name]) == np.shape(value), name
    assert arrays["mask/Conv_0/kernel"].dtype == np.bool_
    for k, v in ATTRS.items():
        assert attrs[k] == v, k
        assert type(attrs[k]) is type(v), k
    for k in PROVENANCE:
        assert k in attrs, k
    assert attrs["schema"] == f"evotickets.{kind}/1"
    assert attrs["evotickets_version"] == __version__
    assert attrs["config_digest"] == "abc123"
    assert attrs["seed"] == 7
    assert attrs["jax_version"] not in ("", "absent")
    assert attrs["evosax_version"] not in ("", "absent")
    assert attrs["created"].startswith("20")


def test_a_copy_passes_on_the_contents_attrs_and_none_the_writer_sets(tmp_path):
    """content_attrs (what a round-0 copy passes on) leaves out every attr write_artifact
    sets itself, the inputs' folder convention too, and keeps everything else."""
    from evotickets.artifacts import content_attrs

    source = _write(tmp_path / "in.h5", kind="init")
    path = write_artifact(tmp_path / "out.h5", "trained", ARRAYS, ATTRS, config_digest="abc123",
                          seed=7, inputs=[source])  # fmt: skip
    attrs = read_artifact(path, "trained")[1]
    assert {"inputs_written", "inputs_relative_to", "jax_version"} <= set(attrs)
    assert content_attrs(attrs) == ATTRS


def test_readable_with_plain_h5py(tmp_path):
    path = _write(tmp_path / "a.h5")
    with h5py.File(path, "r") as f:
        assert isinstance(f["params"], h5py.Group)
        assert isinstance(f["params/Conv_0"], h5py.Group)
        np.testing.assert_array_equal(f["params/Conv_0/kernel"][()], ARRAYS["params/Conv_0/kernel"])
        np.testing.assert_array_equal(f["mask/Conv_0/kernel"][()], ARRAYS["mask/Conv_0/kernel"])
        assert f["mask/Conv_0/kernel"].dtype == np.bool_
        assert f.attrs["schema"] == "evotickets.trained/1"
        assert f.attrs["config_digest"] == "abc123"
        assert int(f.attrs["seed"]) == 7
        assert int(f.attrs["round"]) == 3


def test_group_strips_prefix_in_stored_order(tmp_path):
    arrays, _ = read_artifact(_write(tmp_path / "a.h5"), "trained")
    params = group(arrays, "params")
    assert list(params) == ["Conv_0/bias", "Conv_0/kernel", "Dense_0/kernel"]
    np.testing.assert_array_equal(params["Dense_0/kernel"], ARRAYS["params/Dense_0/kernel"])
    assert group(arrays, "params/") == params
    assert set(group(arrays, "mask")) == {"Conv_0/kernel"}
    assert group(arrays, "sigma") == {}


def test_damage_inside_an_array_fails_the_read(tmp_path):
    """A zeroed block inside a dataset (damage the file system did not report) read as other
    numbers; each array now carries a Fletcher-32 checksum, so the read fails naming the file."""
    path = tmp_path / "a.h5"
    kernel = np.arange(1, 65, dtype=np.float32).reshape(8, 8)
    write_artifact(path, "trained", {"params/kernel": kernel, "params/scale": np.float32(2.0)},
                   ATTRS, config_digest="d", seed=0)  # fmt: skip
    assert read_artifact(path, "trained")[0]["params/kernel"].tolist() == kernel.tolist()
    with h5py.File(path) as f:
        assert f["params/kernel"].fletcher32 and not f["params/scale"].fletcher32
        start = f["params/kernel"].id.get_chunk_info(0).byte_offset
    data = bytearray(path.read_bytes())
    data[start : start + 64] = bytes(64)
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"unreadable artifact .*a\.h5"):
        read_artifact(path, "trained")


def test_damage_that_h5py_reports_as_runtime_or_key_errors_fails_the_read(tmp_path):
    """A flipped byte in HDF5's own metadata (found by its metadata checksums) surfaces as
    RuntimeError or KeyError, not OSError: read_artifact let them through as bare
    tracebacks, and a round whose output was damaged so crashed instead of training."""
    path = _write(tmp_path / "a.h5")
    good = path.read_bytes()
    seen = set()
    for offset in range(0, len(good), 7):
        data = bytearray(good)
        data[offset] ^= 0x10
        path.write_bytes(bytes(data))
        try:
            with h5py.File(path, "r") as f:
                f.visititems(lambda n, o: o[()] if isinstance(o, h5py.Dataset) else None)
                dict(f.attrs)
        except (RuntimeError, KeyError) as err:
            seen.add(type(err))
            with pytest.raises(ArtifactError, match=r"unreadable artifact .*a\.h5"):
                read_artifact(path, "trained")
        except (OSError, ValueError):
            pass
    assert seen, "no flip gave a RuntimeError or KeyError: the test reads nothing"


def test_a_damaged_write_record_names_its_file(tmp_path):
    """A `created` that is not a time, or an inputs record that is not JSON, failed on a bare
    "Invalid isoformat string" or JSONDecodeError, naming no file."""
    from evotickets.artifacts import INPUTS_ATTR, recorded_inputs, written_at

    path = _write(tmp_path / "trained.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["created"] = "2o26-12-07T01:41:00+00:00"
    with pytest.raises(ArtifactError, match=r"unreadable artifact .*trained\.h5.*rerun its rule"):
        written_at(path)
    with pytest.raises(ArtifactError, match=f"trained.h5 has a damaged {INPUTS_ATTR} record"):
        recorded_inputs(path, {INPUTS_ATTR: "{not json"})


def test_a_final_metric_other_than_the_last_evaluation_is_refused(tmp_path):
    """A hand-edited final_metric went into the table and summary.nc: every trainer records
    the last evaluation of its checksummed curve, so the two must agree."""
    arrays = {**ARRAYS, "curves/eval_metric": np.array([0.25, 0.4527778], np.float64)}
    attrs = {**ATTRS, "final_metric": 0.4527778}
    path = write_artifact(tmp_path / "trained.h5", "trained", arrays, attrs,
                          config_digest="abc123", seed=7)  # fmt: skip
    assert read_artifact(path, "trained", with_arrays=False)[1]["final_metric"] == 0.4527778
    with h5py.File(path, "r+") as f:
        f.attrs["final_metric"] = 0.9527778
    with pytest.raises(ArtifactError, match=r"final_metric 0.9527778, but its curves/eval_metric"):
        read_artifact(path, "trained", with_arrays=False)
    # a round whose last evaluation was NaN (an episode that blew up) records NaN in both:
    # read, so that collect lists it as a non-finite round (NaN ≠ NaN refused it as damaged)
    arrays["curves/eval_metric"] = np.array([0.25, np.nan])
    path = write_artifact(tmp_path / "nan.h5", "trained", arrays, {**attrs, "final_metric": np.nan},
                          config_digest="abc123", seed=7)  # fmt: skip
    assert np.isnan(read_artifact(path, "trained", with_arrays=False)[1]["final_metric"])
    with h5py.File(path, "r+") as f:
        f.attrs["final_metric"] = 0.25
    with pytest.raises(ArtifactError, match=r"final_metric 0.25, but its curves/eval_metric ends"):
        read_artifact(path, "trained", with_arrays=False)


def test_unknown_kind_is_refused(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        _write(tmp_path / "a.h5", kind="weights")
    assert list(tmp_path.iterdir()) == []


def test_a_report_can_read_one_group_of_an_artifact(tmp_path):
    arrays = {"params/Dense_0/kernel": np.ones((2, 3), np.float32),
              "mask/Dense_0/kernel": np.array([[1, 0, 1], [0, 1, 1]], bool),
              "mask/Dense_0/bias": np.ones(3, bool)}  # fmt: skip
    path = _write(tmp_path / "trained.h5", arrays=arrays)
    got, attrs = read_artifact(path, "trained", expected_digest="abc123", only="mask")
    assert set(got) == {"mask/Dense_0/kernel", "mask/Dense_0/bias"}
    np.testing.assert_array_equal(got["mask/Dense_0/kernel"], arrays["mask/Dense_0/kernel"])
    assert attrs["round"] == ATTRS["round"]


# --- atomic writes -----------------------------------------------------------------------------


def test_no_tmp_left_after_write(tmp_path):
    _write(tmp_path / "a.h5")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.h5"]


def test_two_writers_of_one_file_each_move_a_whole_file_into_place(tmp_path):
    """A resubmitted job can write a file while its first instance still writes it: each
    writer has a temporary file of its own, so neither truncates the other's, and the file
    under the final name is always one writer's whole content (with one shared `<name>.tmp`,
    the second writer's rename took the first's file away, and the first's failed)."""
    from evotickets.durable import atomic_path

    dest = tmp_path / "trained.h5"
    with atomic_path(dest) as first:
        first.write_text("first, whole")
        with atomic_path(dest) as second:
            assert second != first and first.name.startswith("trained.h5.")
            second.write_text("second, whole")
            assert sorted(tmp_path.glob("trained.h5.*.tmp")) == sorted([first, second])
        assert dest.read_text() == "second, whole"
        assert first.read_text() == "first, whole"  # untouched by the second writer
    assert dest.read_text() == "first, whole"
    assert sorted(p.name for p in tmp_path.iterdir()) == [dest.name]


def test_a_finished_checkpoint_takes_killed_writers_leftovers_not_a_live_write(tmp_path):
    """remove_checkpoint deletes the checkpoint and the temporary files in its folder that no
    writer has touched for STALE_TEMP_SECONDS (killed ones': the checkpoint's, the artifact's,
    the one shared name of the writers before temp_path), not a write in progress (another
    instance of the job may be saving: its rename would fail), nor other files."""
    from evotickets.checkpoint import remove_checkpoint
    from evotickets.durable import STALE_TEMP_SECONDS, temp_path

    ckpt = tmp_path / "trained.ckpt.h5"
    ckpt.write_text("checkpoint")
    left, live = temp_path(ckpt), temp_path(ckpt)
    artifact_left = temp_path(tmp_path / "trained.h5")
    shared = tmp_path / "trained.ckpt.h5.tmp"
    stale = [left, artifact_left, shared]
    for p in stale:
        p.write_text("a killed writer's half")
    live.write_text("another instance, writing now")
    others = [tmp_path / "trained.h5", temp_path(tmp_path / "mask.h5"), tmp_path / "m.h5.tmp"]
    for p in others:
        p.write_text("another file, or a fresh write")
    # old files that are not this module's temporary files: a user's, a folder so named
    foreign = [tmp_path / "notes.tmp", tmp_path / "x.123-deadbeef.tmp.bak"]
    for p in foreign:
        p.write_text("someone else's")
    folder = tmp_path / "old.h5.tmp"
    folder.mkdir()
    old = time.time() - STALE_TEMP_SECONDS - 1
    for p in (*stale, *foreign, folder):
        os.utime(p, (old, old))
    remove_checkpoint(ckpt)
    assert sorted(tmp_path.iterdir()) == sorted([live, *others, *foreign, folder])


def test_overwrite_replaces_the_file(tmp_path):
    """A rerun (here after a settings change: another digest) replaces its own artifact."""
    path = _write(tmp_path / "a.h5", seed=1)
    _write(path, arrays={"params/x": np.zeros(2)}, digest="def456", seed=1)
    arrays, attrs = read_artifact(path, "trained")
    assert set(arrays) == {"params/x"}
    assert attrs["config_digest"] == "def456"


@pytest.mark.parametrize(
    ("change", "named"),
    [({"seed": 2}, "seed 1 (this one: 2)"), ({"round": 4}, "round 3 (this one: 4)"),
     ({"method": "random"}, "method snr (this one: random)")],
)  # fmt: skip
def test_an_artifact_of_another_chain_or_round_is_not_replaced(tmp_path, change, named):
    """A verb's --out naming another chain's or round's finished artifact of its own kind
    replaced it without a word; the file is left as it was."""
    path = _write(tmp_path / "a.h5", seed=1)
    before = path.read_bytes()
    attrs, seed = {**ATTRS, **change}, change.get("seed", 1)
    with pytest.raises(ArtifactError, match=re.escape(named)):
        _write(path, attrs={k: v for k, v in attrs.items() if k != "seed"}, seed=seed)
    assert path.read_bytes() == before


def test_a_transfer_round_is_named_by_its_transfer_not_its_target(tmp_path):
    """A transfer entry whose target changed under the same name reruns into the same
    folder: replaced (its folder names the transfer, seed and round, not the target); a
    round of another transfer is not."""
    transfer = {**ATTRS, "method": "transfer", "transfer_name": "t1"}
    path = _write(tmp_path / "trained.h5", attrs=transfer)
    _write(path, attrs={**transfer, "strategy": "pgpe", "task": "mnist"}, digest="new")
    assert read_artifact(path, "trained")[1]["strategy"] == "pgpe"
    with pytest.raises(ArtifactError, match=re.escape("transfer_name t1 (this one: t2)")):
        _write(path, attrs={**transfer, "transfer_name": "t2"})


def test_a_file_that_is_no_artifact_is_replaced_only_under_a_name_the_writer_gives(tmp_path):
    """A damaged trained.h5 is replaced by its rerun; a config or a claims.md named as a
    verb's --out is not (the accuracy table was written over the config, exit 0)."""
    from evotickets.artifacts import check_output

    damaged = tmp_path / "trained.h5"
    damaged.write_bytes(b"not hdf5")
    _write(damaged)
    for name, kind in (("config.yaml", "table"), ("claims.md", "table"), ("t.txt", "summary"),
                       ("fig1.png", "table"), ("config.yaml", "trained")):  # fmt: skip
        (tmp_path / name).write_text("finished")
        with pytest.raises(ArtifactError, match="it is an existing file that is not one"):
            check_output(tmp_path / name, kind, [])
        assert (tmp_path / name).read_text() == "finished"
    # a table or a figure has no suffix of its own (`--out table`): what is in the file says
    # whether it is an earlier one (a Snakefile was replaced by the table, exit 0)
    for name, kind in (("Snakefile", "table"), ("Makefile", "figure"), ("notes.txt", "table"),
                       ("fig.png", "figure")):  # fmt: skip
        (tmp_path / name).write_text("rule all:\n    input: 'x'\n")
        with pytest.raises(ArtifactError, match="it is an existing file that is not one"):
            check_output(tmp_path / name, kind, [])
    from evotickets.report import _rounds_table

    # an earlier table as the report writes it (held equal to artifacts.TABLE_HEADER here)
    table = "\n".join(
        ["digits / snes: test_accuracy", *_rounds_table(["random"], [(0, 1.0, ["x"])])]
    )
    for name, kind, older in (("table.txt", "table", table.encode()), ("table", "table", b""),
                              ("fig.png", "figure", b"\x89PNG\r\n"), ("s.nc", "summary", b"old"),
                              ("fig.jpg", "figure", b""), ("f.pdf", "figure", b"%PDF-1.4")):  # fmt: skip
        (tmp_path / name).write_bytes(older)
        assert check_output(tmp_path / name, kind, []) == tmp_path / name
    # an earlier figure in every format matplotlib writes here (tiff, webp, svgz were refused)
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1))
    for ext in plt.gcf().canvas.get_supported_filetypes():
        fig.savefig(tmp_path / f"f.{ext}")
        assert check_output(tmp_path / f"f.{ext}", "figure", []) == tmp_path / f"f.{ext}", ext
    plt.close("all")


class _MidWrite(Exception):
    """Raised by the writer after its temporary file holds a dataset: a failure mid-write."""


def _fail_mid_write(monkeypatch, tmp_path) -> list[Path]:
    """Make write_artifact fail after its first dataset is written, recording the temporary
    files there were then (a TypeError before the file opened passed these tests alike)."""
    from evotickets import artifacts

    real, seen = artifacts.create_checked_dataset, []

    def once(f, name, value):
        real(f, name, value)
        seen.extend(p for p in tmp_path.iterdir() if p.name.endswith(".tmp"))
        raise _MidWrite

    monkeypatch.setattr(artifacts, "create_checked_dataset", once)
    return seen


def test_failed_write_leaves_old_file_and_no_tmp(tmp_path, monkeypatch):
    path = _write(tmp_path / "a.h5")
    before = path.read_bytes()
    seen = _fail_mid_write(monkeypatch, tmp_path)
    with pytest.raises(_MidWrite):
        _write(path, digest="new", seed=7)
    assert len(seen) == 1  # it failed with its temporary file in place
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.h5"]
    arrays, attrs = read_artifact(path, "trained", expected_digest="abc123")
    np.testing.assert_array_equal(arrays["params/Conv_0/kernel"], ARRAYS["params/Conv_0/kernel"])
    assert attrs["seed"] == 7


def test_failed_first_write_leaves_nothing(tmp_path, monkeypatch):
    seen = _fail_mid_write(monkeypatch, tmp_path)
    with pytest.raises(_MidWrite):
        _write(tmp_path / "a.h5")
    assert len(seen) == 1
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(TypeError):  # h5py cannot store objects: the same, from the library
        _write(tmp_path / "b.h5", arrays={"x": np.array([object()])})
    assert list(tmp_path.iterdir()) == []


# --- durable writes: fsync the file before the rename, the folder after ------------------------


def _record_durability(monkeypatch, root: Path) -> list[tuple]:
    """Patch os.fsync and os.replace to log, in order, what under ``root`` they touch (an fsync
    by the path its descriptor names), then do the real call."""
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to name an fsynced descriptor")
    events: list[tuple] = []
    real_fsync, real_replace = os.fsync, os.replace
    # a temporary file of this writer's own (durable.temp_path) reads "<name>.<writer>.tmp"
    own_temp = re.compile(rf"\.{os.getpid()}-[0-9a-f]{{8}}\.tmp$")

    def named(path: str) -> str:
        return own_temp.sub(".<writer>.tmp", path)

    def fsync(fd):
        target = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if target.is_relative_to(root):
            events.append(("fsync", named(target.relative_to(root).as_posix())))
        return real_fsync(fd)

    def replace(src, dst, **kw):
        events.append(("replace", named(Path(src).name), Path(dst).name))
        return real_replace(src, dst, **kw)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events


def _write_checkpoint(path: Path) -> None:
    from evotickets.checkpoint import Checkpointer

    ck = Checkpointer(path, "digest", every_generations=1, log=lambda _: None)
    ck.save({"mean": np.arange(3.0)}, 1, {"best_fitness": np.ones(1)})


def _write_summary(path: Path) -> None:
    import xarray as xr

    from evotickets.analysis.collect import save

    save(xr.Dataset({"acc": ("round", np.linspace(0, 1, 3))}), path)


def _write_table(path: Path, monkeypatch) -> None:
    import argparse

    import evotickets.report
    from evotickets.commands.reporting import cmd_table

    monkeypatch.setattr(
        evotickets.report, "accuracy_table", lambda results, cfg=None: "round acc\n0 0.9\n"
    )
    cmd_table(
        argparse.Namespace(
            results=str(path.parent), out=str(path), configfile=None, config_json=None
        )
    )


@pytest.mark.parametrize(
    ("name", "write"),
    [
        ("trained.h5", lambda path, mp: _write(path)),
        ("trained.ckpt.h5", lambda path, mp: _write_checkpoint(path)),
        ("summary.nc", lambda path, mp: _write_summary(path)),
        ("accuracy_table.txt", _write_table),
    ],
)
def test_writes_fsync_the_file_before_the_rename_and_the_folder_after(
    tmp_path, monkeypatch, name, write
):
    """A rename that reaches the disk before the file's data leaves, after a power loss, a file
    under its final name with missing contents; so: fsync(tmp), replace, fsync(folder)."""
    out = tmp_path / "res"
    out.mkdir()
    events = _record_durability(monkeypatch, tmp_path)
    write(out / name, monkeypatch)
    # and once, before or after (some writers make their folder first): the folder's own
    # entry in its parent, since the test made it without an fsync
    assert events.count(("fsync", ".")) == 1
    assert [e for e in events if e != ("fsync", ".")] == [
        ("fsync", f"res/{name}.<writer>.tmp"),
        ("replace", f"{name}.<writer>.tmp", name),
        ("fsync", "res"),
    ]
    assert sorted(p.name for p in out.iterdir()) == [name]


def test_folders_made_by_another_program_are_fsynced_into_their_parents(tmp_path, monkeypatch):
    """Snakemake makes every output's folder before the job runs, without an fsync: the first
    write into it fsyncs the parent of each folder on its path (after a crash the folder,
    and the file in it, could otherwise vanish); later writes there pay only their own."""
    from evotickets.durable import atomic_path

    folder = tmp_path / "res/exp/digits/seed0"
    os.makedirs(folder)  # as Snakemake does
    events = _record_durability(monkeypatch, tmp_path)
    for name in ("a.h5", "b.h5"):
        with atomic_path(folder / name) as tmp:
            tmp.write_bytes(b"x")
    assert events == [
        ("fsync", "res/exp/digits/seed0/a.h5.<writer>.tmp"),
        ("replace", "a.h5.<writer>.tmp", "a.h5"),
        ("fsync", "res/exp/digits/seed0"),
        ("fsync", "res/exp/digits"),
        ("fsync", "res/exp"),
        ("fsync", "res"),
        ("fsync", "."),
        ("fsync", "res/exp/digits/seed0/b.h5.<writer>.tmp"),
        ("replace", "b.h5.<writer>.tmp", "b.h5"),
        ("fsync", "res/exp/digits/seed0"),
    ]


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (PermissionError(errno.EACCES, "Permission denied"), False),
        (OSError(errno.EROFS, "Read-only file system"), False),
        (OSError(errno.EIO, "Input/output error"), True),
    ],
)
def test_a_parent_that_cannot_be_synced_ends_the_walk_up(tmp_path, monkeypatch, error, raised):
    """A parent this user may not open (``/home`` at mode 711) or a read-only mount above
    does not fail a write whose file is already in place: the walk stops there. A failing
    disk (EIO) is raised, as for the file's own folder."""
    from evotickets import durable

    monkeypatch.setattr(durable, "_SYNCED_FOLDERS", set())
    folder = tmp_path / "locked/mine"
    (folder / "sub").mkdir(parents=True)
    synced = []

    def fsync_dir(path):
        if Path(path) == tmp_path / "locked":
            raise error
        synced.append(Path(path))

    monkeypatch.setattr(durable, "fsync_dir", fsync_dir)
    if raised:
        with pytest.raises(OSError, match="Input/output"):
            durable.fsync_ancestors(folder / "sub")
        return
    durable.fsync_ancestors(folder / "sub")
    assert synced == [folder]  # sub's parent; then mine's parent refused: the walk stops


def test_the_walk_up_stops_at_the_mount_point(tmp_path, monkeypatch):
    """The folders above a mount point were made with the mount, not by a run."""
    from evotickets import durable

    monkeypatch.setattr(durable, "_SYNCED_FOLDERS", set())
    mount = tmp_path / "mnt"
    (mount / "exp").mkdir(parents=True)
    real_stat = Path.stat

    def stat(self, *args, **kwargs):  # mnt and below on another device than tmp_path
        st = real_stat(self, *args, **kwargs)
        below = self == mount or mount in self.parents
        return types.SimpleNamespace(st_dev=st.st_dev + 1) if below else st

    monkeypatch.setattr(Path, "stat", stat)
    synced = []
    monkeypatch.setattr(durable, "fsync_dir", lambda path: synced.append(Path(path)))
    durable.fsync_ancestors(mount / "exp")
    assert synced == [mount]  # exp's parent, then mnt's parent is on the other device


def test_a_symlinked_folder_syncs_the_real_folders_parents(tmp_path, monkeypatch):
    """results/ may be a link to scratch space: the folders that must not vanish are the
    real ones, not the folder that holds the link."""
    from evotickets import durable

    monkeypatch.setattr(durable, "_SYNCED_FOLDERS", set())
    real = tmp_path / "scratch/exp"
    real.mkdir(parents=True)
    (tmp_path / "project").mkdir()
    (tmp_path / "project/results").symlink_to(tmp_path / "scratch")
    synced = []
    monkeypatch.setattr(durable, "fsync_dir", lambda path: synced.append(Path(path)))
    durable.fsync_ancestors(tmp_path / "project/results/exp")
    assert synced[:2] == [tmp_path / "scratch", tmp_path]
    assert tmp_path / "project" not in synced


def test_durable_replace_is_the_only_rename_in_src():
    """Every atomic writer goes through evotickets.durable, so none can forget an fsync."""
    src = Path(__file__).resolve().parents[2] / "src" / "evotickets"
    offenders = [
        f"{p.relative_to(src)}:{i}"
        for p in sorted(src.rglob("*.py"))
        if p.name != "durable.py"
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"\bos\.(replace|rename)\(|\.rename\(|\.replace\(\s*tmp", line)
    ]
    assert offenders == []


# --- broken files: the message names the file and the rule that recreates it -------------------


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _not_hdf5(path: Path) -> None:
    path.write_text("this is not an HDF5 file\n" * 50)


def _missing(path: Path) -> None:
    path.unlink()


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize(
    ("breakage", "what"),
    [(_truncate, "unreadable"), (_not_hdf5, "unreadable"), (_missing, "missing")],
    ids=["truncated", "not-hdf5", "missing"],
)
def test_broken_file_names_path_and_rule(tmp_path, kind, breakage, what):
    path = _write(tmp_path / f"{kind}.h5", kind=kind)
    breakage(path)
    with pytest.raises(ArtifactError) as info:
        read_artifact(path, kind)
    msg = str(info.value)
    assert what in msg
    assert str(path) in msg
    # analysis artifacts name the rule after the file (lmc_consecutive.h5 → lmc_consecutive)
    # a round's mask.h5 and trained.h5 are both outputs of its `train` job
    rule = {"trained": "train", "mask": "train", "init": "init", "analysis": "analysis"}[kind]
    assert f"rule `{rule}`" in msg


def test_wrong_schema_version(tmp_path):
    path = _write(tmp_path / "a.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["schema"] = "evotickets.trained/999"
    with pytest.raises(ArtifactError) as info:
        read_artifact(path, "trained")
    msg = str(info.value)
    assert "schema" in msg
    assert "evotickets.trained/999" in msg and "evotickets.trained/1" in msg
    assert str(path) in msg and "rule `train`" in msg


def test_wrong_kind_is_a_schema_error(tmp_path):
    path = _write(tmp_path / "a.h5", kind="mask")
    with pytest.raises(ArtifactError, match="schema"):
        read_artifact(path, "trained")


def test_config_digest_mismatch(tmp_path):
    path = _write(tmp_path / "a.h5")
    with pytest.raises(ArtifactError) as info:
        read_artifact(path, "trained", expected_digest="other")
    msg = str(info.value)
    assert "config_digest" in msg
    assert "abc123" in msg and "other" in msg
    assert str(path) in msg and "rule `train`" in msg


# --- the CLI refuses artifacts that are not the chain's -----------------------------------------


def _chain(seed: int, method: str = "magnitude") -> dict:
    cfg = validate_config(copy.deepcopy(TINY_CONFIG))
    return chain_settings(cfg, "digits", "snes", method, seed)


def _init_settings(seed: int) -> dict:
    return {"task": "digits", "network": "cnn_small", "prune_output_layer": True, "seed": seed}


@pytest.fixture(scope="module")
def chain_artifacts(tmp_path_factory) -> dict[str, Path]:
    """Real init.h5 of seeds 0 and 1, round-0 masks of the seed-0 and seed-1 magnitude chains
    and of the seed-0 random chain; built once, copied by each test."""
    d = tmp_path_factory.mktemp("chain")
    out = {}
    for seed in (0, 1):
        p = d / f"init{seed}.h5"
        assert main(["init", "--settings", json.dumps(_init_settings(seed)), "--out", str(p)]) == 0
        out[f"init{seed}"] = p
    for name, seed, method in (
        ("mask0", 0, "magnitude"),
        ("mask1", 1, "magnitude"),
        ("mask0_random", 0, "random"),
    ):
        p = d / f"{name}.h5"
        argv = ["mask", "--settings", json.dumps(_chain(seed, method)), "--round", "0"]
        assert main([*argv, "--init", str(out[f"init{seed}"]), "--out", str(p)]) == 0
        out[name] = p
    return out


@pytest.fixture
def artifacts(chain_artifacts, tmp_path) -> dict[str, Path]:
    copies = {}
    for name, src in chain_artifacts.items():
        dst = tmp_path / src.name
        dst.write_bytes(src.read_bytes())
        copies[name] = dst
    return copies


def _train(capsys, chain: dict, init: Path, mask: Path, out: Path) -> tuple[int, str]:
    before = {p: p.read_bytes() for p in (init, mask)}
    capsys.readouterr()
    rc = main(
        [
            "train",
            "--settings",
            json.dumps(chain),
            "--round",
            "0",
            "--init",
            str(init),
            "--mask",
            str(mask),
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    # whatever the failure, the inputs are untouched and no output (or temp file) appears
    for p, data in before.items():
        assert p.read_bytes() == data, p
    assert not out.exists()
    assert not list(out.parent.glob(f"{out.name}*.tmp"))
    return rc, err


def test_cli_artifacts_are_valid(chain_artifacts):
    init_arrays, init_attrs = read_artifact(chain_artifacts["init0"], "init")
    assert init_attrs["seed"] == 0 and init_attrs["network"] == "cnn_small"
    mask_arrays, mask_attrs = read_artifact(chain_artifacts["mask0"], "mask")
    assert mask_attrs["round"] == 0 and mask_attrs["remaining_fraction"] == 1.0
    params, mask = group(init_arrays, "params"), group(mask_arrays, "mask")
    assert list(mask) == list(params)
    for name in params:
        assert mask[name].shape == params[name].shape, name
        assert mask[name].all(), name
    init1 = read_artifact(chain_artifacts["init1"], "init")[0]
    assert any(
        not np.array_equal(init1[k], v) for k, v in init_arrays.items() if k.endswith("kernel")
    )


def test_train_refuses_mask_of_wrong_shape(artifacts, tmp_path, capsys):
    mask = artifacts["mask0"]
    with h5py.File(mask, "r+") as f:
        name = next(n for n in group({k: None for k in _dataset_names(f)}, "mask"))
        shape = f[f"mask/{name}"].shape
        wrong = (shape[0] + 1, *shape[1:])
        del f[f"mask/{name}"]
        f.create_dataset(f"mask/{name}", data=np.ones(wrong, dtype=bool))
    assert read_artifact(mask, "mask")[1]["schema"] == "evotickets.mask/1"  # attrs kept
    rc, err = _train(capsys, _chain(0), artifacts["init0"], mask, tmp_path / "out" / "t.h5")
    assert rc == 2
    assert err.startswith("evotickets train: error:")
    assert f"tensor {name}" in err
    assert "does not fit" in err
    assert str(wrong) in err and str(shape) in err
    assert str(mask) in err


def _dataset_names(f: h5py.File) -> list[str]:
    names: list[str] = []
    f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    return names


@pytest.mark.parametrize("other", ["mask1", "mask0_random"], ids=["seed1", "random-method"])
def test_train_refuses_mask_of_another_chain(artifacts, tmp_path, capsys, other):
    rc, err = _train(capsys, _chain(0), artifacts["init0"], artifacts[other], tmp_path / "t.h5")
    assert rc == 2
    assert err.startswith("evotickets train: error:")
    assert "config_digest" in err
    assert str(artifacts[other]) in err
    assert "rule `train`" in err  # a round's mask.h5 is an output of its `train` job


def test_train_refuses_init_of_another_seed(artifacts, tmp_path, capsys):
    rc, err = _train(capsys, _chain(0), artifacts["init1"], artifacts["mask0"], tmp_path / "t.h5")
    assert rc == 2
    assert err.startswith("evotickets train: error:")
    assert "config_digest" in err
    assert str(artifacts["init1"]) in err
    assert "rule `init`" in err


def test_train_refuses_truncated_init(artifacts, tmp_path, capsys):
    _truncate(artifacts["init0"])
    rc, err = _train(capsys, _chain(0), artifacts["init0"], artifacts["mask0"], tmp_path / "t.h5")
    assert rc == 2
    assert "unreadable" in err and str(artifacts["init0"]) in err and "rule `init`" in err


def test_mask_refuses_init_of_another_seed(artifacts, tmp_path, capsys):
    out = tmp_path / "m.h5"
    before = artifacts["init1"].read_bytes()
    argv = ["mask", "--settings", json.dumps(_chain(0)), "--round", "0"]
    rc = main([*argv, "--init", str(artifacts["init1"]), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("evotickets mask: error:") and "config_digest" in err
    assert artifacts["init1"].read_bytes() == before
    assert not out.exists()


def test_a_new_results_folder_is_made_durably(tmp_path, monkeypatch):
    """A round written into folders made for it: each new folder's parent is fsynced after
    the folder is created, so the folder (and the file renamed into it) survives a crash."""
    (tmp_path / "res").mkdir()
    events = _record_durability(monkeypatch, tmp_path)
    path = tmp_path / "res/exp/digits/seed0/a.h5"
    kernel = {"params/kernel": np.zeros(3, np.float32)}
    write_artifact(path, "init", kernel, {}, config_digest="d", seed=0)
    # ensure_writable makes res/exp/digits/seed0 (fsyncing the parent of each folder on the
    # way: res/exp/digits, res/exp, res, and "." for res, which the test made), then the
    # write itself: fsync(tmp), replace, fsync(folder)
    assert events == [
        ("fsync", "res/exp/digits"),
        ("fsync", "res/exp"),
        ("fsync", "res"),
        ("fsync", "."),
        ("fsync", "res/exp/digits/seed0/a.h5.<writer>.tmp"),
        ("replace", "a.h5.<writer>.tmp", "a.h5"),
        ("fsync", "res/exp/digits/seed0"),
    ]


_WRITER_KILLED_MID_WRITE = """
import sys, time
from evotickets import cli
from evotickets.durable import atomic_path

def verb():
    with atomic_path(sys.argv[1]) as tmp:
        tmp.write_text("half an artifact")
        print("writing", flush=True)
        time.sleep(60)
    return 0

cli.main = verb
cli.run()
"""


def test_sigterm_mid_write_leaves_no_temporary_file(tmp_path):
    """SLURM ends a job with SIGTERM (then SIGKILL): the evotickets entry point turns it into
    an exit that unwinds, so the write's temporary file goes with it (Python's default
    action ends the process at once and left it behind) and the exit status says why."""
    import signal
    import subprocess
    import sys

    dest = tmp_path / "trained.h5"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER_KILLED_MID_WRITE, str(dest)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "writing"
        assert len(list(tmp_path.iterdir())) == 1  # the temporary file, mid-write
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        proc.kill()
    assert list(tmp_path.iterdir()) == []


def test_the_entry_points_exit_status_is_pythons():
    """cli.run leaves with os._exit after unwinding a SystemExit; its status must be the one
    Python would give: 0 for sys.exit() and --help, argparse's 2 for a bad argument, 1 with
    the message for a text."""
    import contextlib
    import io

    from evotickets.cli import _exit_status

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert [_exit_status(c) for c in (None, 0, 2, 143)] == [0, 0, 2, 143]
        assert _exit_status("no such file") == 1
    assert err.getvalue() == "no such file\n"


# --- the inputs an artifact records ---------------------------------------------------------


def _made_from(tmp_path: Path) -> tuple[Path, Path]:
    """results/e/t/seed0/init.h5 and a mask made from it, written from ``tmp_path`` (the
    working directory) with the relative paths a workflow job is given."""
    assert Path.cwd() == tmp_path
    init = Path("results/e/t/seed0/init.h5")
    mask = Path("results/e/t/s/m/seed0/iter01/mask.h5")
    _write(init, kind="init")
    write_artifact(mask, "mask", {}, ATTRS, config_digest="abc123", seed=7, inputs=[init])
    return init, mask


def test_the_stale_input_check_reads_the_same_from_any_working_directory(tmp_path, monkeypatch):
    """The inputs' paths are recorded relative to the artifact's folder: checked from another
    folder (`evotickets collect <path>` by hand), an input written again since is still
    found; a copy of the whole results folder checks against its own inputs (before, it was
    checked against the working directory's results/, and its good files were called stale)."""
    import shutil

    from evotickets.artifacts import stale_inputs

    monkeypatch.chdir(tmp_path)
    init, mask = _made_from(tmp_path)
    archive = tmp_path / "archive"
    shutil.copytree(tmp_path / "results", archive / "results")
    time.sleep(0.01)
    _write(init, kind="init")  # written again: the mask is stale
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    _, attrs = read_artifact(tmp_path / mask, "mask")
    assert stale_inputs(tmp_path / mask, attrs) == [str(tmp_path / init)]
    _, copied = read_artifact(archive / mask, "mask")
    assert stale_inputs(archive / mask, copied) == []
    monkeypatch.chdir(tmp_path)  # the archive read from the run's folder: still its own
    assert stale_inputs(archive / mask, copied) == []
    assert stale_inputs(mask, attrs) == [str(init)]


def test_an_old_record_of_working_directory_paths_is_still_checked(tmp_path, monkeypatch):
    """Artifacts written before 2026-12-06 record the paths as the job was given them:
    read from the workflow's directory they are checked as before."""
    from evotickets.artifacts import INPUTS_ATTR, INPUTS_BASE_ATTR, stale_inputs

    monkeypatch.chdir(tmp_path)
    init, mask = _made_from(tmp_path)
    _, attrs = read_artifact(mask, "mask")
    (when,) = json.loads(attrs[INPUTS_ATTR]).values()
    old = {**attrs, INPUTS_ATTR: json.dumps({str(init): when})}
    del old[INPUTS_BASE_ATTR]
    assert stale_inputs(mask, old) == []
    time.sleep(0.01)
    _write(init, kind="init")
    assert stale_inputs(mask, old) == [str(init)]


def test_a_damaged_input_of_the_stale_check_names_its_rule(tmp_path, monkeypatch):
    from evotickets.artifacts import stale_inputs

    monkeypatch.chdir(tmp_path)
    init, mask = _made_from(tmp_path)
    _, attrs = read_artifact(mask, "mask")
    _truncate(init)
    with pytest.raises(ArtifactError, match=r"unreadable artifact .*init.h5.*rule `init`"):
        stale_inputs(mask, attrs)


def test_a_transferred_tickets_round_names_the_transfer_rule(tmp_path):
    path = tmp_path / "results/e/transfer/snes_to_adam/seed0/iter00/trained.h5"
    path.parent.mkdir(parents=True)
    _not_hdf5(path)
    with pytest.raises(ArtifactError) as info:
        read_artifact(path, "trained")
    assert "rule `transfer`" in str(info.value) and "`transfer_seeds`" in str(info.value)
    assert "train_seeds" not in str(info.value)


def test_the_write_probe_is_a_temporary_file_of_its_own_that_the_sweep_knows(tmp_path, monkeypatch):
    """Two jobs with one pid (containers, a resubmitted job on another node) must not share
    a probe name: one would delete the other's, and its job fail as "not writable". The
    probe is named like every temporary file here, so a killed job's leftover is swept."""
    from evotickets import durable
    from evotickets.artifacts import ensure_writable

    probes = []
    real_unlink = Path.unlink

    def unlink(self, *args, **kwargs):
        probes.append(self.name)
        return real_unlink(self, *args, **kwargs)

    monkeypatch.setattr(Path, "unlink", unlink)
    monkeypatch.setattr(os, "getpid", lambda: 7)
    for _ in range(2):
        ensure_writable(tmp_path / "trained.h5")
    assert len(probes) == 2 and probes[0] != probes[1], probes
    assert all(durable._OWN_TEMP.fullmatch(p) for p in probes), probes
    assert list(tmp_path.iterdir()) == []


def test_a_set_of_files_is_replaced_only_once_every_one_is_synced(tmp_path, monkeypatch):
    """claims.md, .html and .nc belong together: a failed fsync of the last (a full disk
    often shows only there on a network file system) leaves all three old files."""
    from evotickets import durable

    dests = [tmp_path / n for n in ("claims.md", "claims.html", "claims.nc")]
    for d in dests:
        d.write_text(f"old {d.name}")
    real = durable.fsync_file

    def full_at_nc(path):
        if ".nc." in Path(path).name:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path)

    monkeypatch.setattr(durable, "fsync_file", full_at_nc)
    with pytest.raises(OSError, match="No space"), durable.atomic_paths(*dests) as tmps:
        for t in tmps:
            t.write_text("new")
    assert [d.read_text() for d in dests] == [f"old {d.name}" for d in dests]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(d.name for d in dests)
    monkeypatch.setattr(durable, "fsync_file", real)
    with durable.atomic_paths(*dests) as tmps:
        for t in tmps:
            t.write_text("new")
    assert [d.read_text() for d in dests] == ["new"] * 3


def test_only_a_transfer_rounds_place_names_the_transfer_rule(tmp_path):
    """An experiment (or a folder above results/) named `transfer` holds chain rounds, whose
    rule is `train`; only results/<exp>/transfer/<name>/seed<k>/iter<t>/ is a transfer's."""
    path = tmp_path / "transfer/results/transfer/digits/snes/magnitude/seed0/iter01/trained.h5"
    path.parent.mkdir(parents=True)
    _not_hdf5(path)
    with pytest.raises(ArtifactError, match=r"rule `train`") as info:
        read_artifact(path, "trained")
    assert "transfer_seeds" not in str(info.value)


def test_round0_numbers_compare_what_the_round_computed():
    """Two round-0 files hold the same numbers where their arrays are bitwise equal and their
    attrs differ only in what each round records of itself (method, machine, times) or, for
    a gradient-descent round, in the ES fitness's n_repeats, which rounds written before its
    digest left it out recorded (names.ES_FITNESS_TASK_KEYS)."""
    from evotickets.artifacts import round0_numbers_equal

    arrays = {"params/w": np.arange(4.0), "mask/w": np.ones(4, bool)}

    def round0(strategy, **attrs):
        base = {"round": 0, "strategy": strategy, "method": "random", "final_metric": -120.5,
                "max_steps": "200", "config_digest": "a", "trained_on": "cpu ×1"}  # fmt: skip
        return {k: v.copy() for k, v in arrays.items()}, {**base, **attrs}

    now, before = round0("gd_ppo"), round0("gd_ppo", n_repeats="8", method="magnitude")
    assert round0_numbers_equal(now, before)
    assert round0_numbers_equal(round0("gd_ppo", trained_on="gpu"), now)
    assert not round0_numbers_equal(round0("gd_ppo", final_metric=-120.4), now)
    assert not round0_numbers_equal(round0("gd_ppo", max_steps="500"), now)
    assert not round0_numbers_equal(round0("snes", n_repeats="8"), round0("snes", n_repeats="4"))
    other = round0("gd_ppo")
    other[0]["params/w"][0] = np.nextafter(0.0, 1.0)
    assert not round0_numbers_equal(other, now)


def test_an_artifact_it_cannot_read_now_is_neither_damaged_nor_replaced(tmp_path):
    """A finished trained.h5 that another process holds open (HDF5's lock), or that HDF5
    marks as open for writing after a killed writer, was read as "truncated, damaged or not
    HDF5: delete it": a group job then counted the round unfinished and trained it again
    over the good file (and every later round, stale by its new time). It is now
    unavailable: kept, refused as an output, and named with what to do."""
    from conftest import changed_only_in_superblock, hdf5_locks_off, held_open_for_writing

    from evotickets.artifacts import ArtifactUnavailable
    from evotickets.commands.group import outputs_current

    if hdf5_locks_off():
        pytest.skip("HDF5's file locks are off in this environment (HDF5_USE_FILE_LOCKING)")
    path = tmp_path / "trained.h5"
    attrs = {"task": "digits", "strategy": "snes", "method": "random", "round": 0,
             "final_metric": 0.5, "metric_name": "test_accuracy", "remaining_fraction": 1.0}  # fmt: skip
    write_artifact(path, "trained", {"x": np.ones(3)}, attrs, config_digest="d", seed=0)
    assert outputs_current([(str(path), "trained")], "d", 0, [])
    before = path.read_bytes()
    with held_open_for_writing(path):
        with pytest.raises(ArtifactUnavailable, match="not damaged.*another process holds it"):
            read_artifact(path, "trained")
        with pytest.raises(ArtifactUnavailable):
            outputs_current([(str(path), "trained")], "d", 0, [])
        with pytest.raises(ArtifactUnavailable):
            write_artifact(path, "trained", {}, attrs, config_digest="d", seed=0)
    # the killed writer left HDF5's open-for-write mark
    with pytest.raises(ArtifactUnavailable, match=r"h5clear -s"):
        read_artifact(path, "trained")
    with pytest.raises(ArtifactUnavailable):
        write_artifact(path, "trained", {}, attrs, config_digest="d", seed=0)
    with pytest.raises(ArtifactUnavailable):
        outputs_current([(str(path), "trained")], "d", 0, [])
    assert changed_only_in_superblock(before, path.read_bytes())


def test_damage_stays_damage_and_an_os_error_of_now_is_named(tmp_path):
    """Which errors mean "cannot be read now" (kept) and which mean damage (remade)."""
    from evotickets.artifacts import ArtifactUnavailable, unavailable

    path = tmp_path / "trained.h5"
    assert unavailable(path, OSError("Unable to open file (truncated file: eof = 96)")) is None
    assert unavailable(path, KeyError("x")) is None
    for code, why in ((errno.EACCES, "no permission"), (errno.ESTALE, "stale handle"),
                      (errno.ENOLCK, "HDF5_USE_FILE_LOCKING=FALSE")):  # fmt: skip
        assert why in str(unavailable(path, OSError(code, os.strerror(code))))
    path.write_bytes(b"not hdf5 at all")
    with pytest.raises(ArtifactError, match="truncated, damaged or not HDF5") as err:
        read_artifact(path, "trained")
    assert not isinstance(err.value, ArtifactUnavailable)


def test_a_directory_fsync_error_fails_the_write_unless_the_file_system_cannot_sync_folders(
    tmp_path, monkeypatch
):
    """EIO or ENOSPC while syncing the folder means the rename may not be on disk: the write
    fails, saying so, rather than report a durable artifact. A file system that cannot sync
    folders at all (EINVAL) is no error: there is nothing more to do there."""
    from evotickets import durable

    real_fsync = os.fsync

    def failing(code):
        def fsync(fd):
            if Path(f"/proc/self/fd/{fd}").resolve().is_dir():
                raise OSError(code, os.strerror(code))
            return real_fsync(fd)

        return fsync

    for code, fails in ((errno.EIO, True), (errno.ENOSPC, True), (errno.EINVAL, False)):
        tmp = tmp_path / f"x{code}.tmp"
        tmp.write_bytes(b"data")
        monkeypatch.setattr(os, "fsync", failing(code))
        if fails:
            with pytest.raises(OSError) as err:
                durable.durable_replace(tmp, tmp_path / f"x{code}")
            assert err.value.errno == code
        else:
            durable.durable_replace(tmp, tmp_path / f"x{code}")
        monkeypatch.setattr(os, "fsync", real_fsync)
