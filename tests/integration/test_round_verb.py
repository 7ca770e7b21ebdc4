"""`evotickets round` (what rule `train` runs) makes exactly what `mask` then `train` make."""

import json
import os
import shutil
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from evotickets import cli
from evotickets.artifacts import read_artifact, stale_inputs
from evotickets.config import chain_settings, init_settings, validate_config
from evotickets.durable import STALE_TEMP_SECONDS


def _arrays(path):
    with h5py.File(path) as f:
        out = {}
        f.visititems(
            lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None
        )
        attrs = {k: v for k, v in f.attrs.items() if k not in ("created", "inputs_written")}
    return out, attrs


def _write_init(cfg: dict, path, seed: int = 0):
    """θ0 of ``cfg``'s digits task for ``seed``, written to ``path`` by the `init` verb."""
    argv = ["init", "--settings", json.dumps(init_settings(cfg, "digits", seed)), "--out"]
    assert cli.main([*argv, str(path)]) == 0
    return path


def test_init_sweeps_what_killed_init_jobs_left(tmp_path, tiny_config):
    """An `init` job killed mid-write leaves a θ0-sized temporary file in its seed folder;
    the next init there removes it (a young one may be another instance's write: kept)."""
    stale, live = tmp_path / "init.h5.999-deadbeef.tmp", tmp_path / "init.h5.1000-0123abcd.tmp"
    for path in (stale, live):
        path.write_text("half")
    old = time.time() - STALE_TEMP_SECONDS - 1
    os.utime(stale, (old, old))
    _write_init(validate_config(tiny_config), tmp_path / "init.h5")
    assert live.exists() and not stale.exists()


def _random_chain(tmp_path, tiny_config):
    """θ0 of the tiny config written to init.h5, and its digits SNES random chain's settings
    at 4 generations."""
    tiny_config["es"] = {"num_generations": 4, "log_every": 4}
    cfg = validate_config(tiny_config)
    init = tmp_path / "init.h5"
    _write_init(cfg, init)
    return init, json.dumps(chain_settings(cfg, "digits", "snes", "random", 0))


def test_round_equals_mask_then_train_and_logs_the_mask_step(tmp_path, tiny_config):
    init, settings = _random_chain(tmp_path, tiny_config)
    common = ["--settings", settings, "--round", "1", "--init", str(init)]
    assert cli.main(["mask", *common, "--out", str(tmp_path / "a_mask.h5")]) == 0
    assert cli.main(["train", "--settings", settings, "--round", "1", "--init", str(init),
                     "--mask", str(tmp_path / "a_mask.h5"), "--out", str(tmp_path / "a.h5")]) == 0  # fmt: skip
    log = tmp_path / "b_mask.log"
    # writers killed outright (SIGKILL) left temporary files; one is being written now
    stale = [tmp_path / "b.h5.999-deadbeef.tmp", tmp_path / "b_mask.h5.tmp"]
    live = tmp_path / "b.h5.1000-0123abcd.tmp"
    for path in (*stale, live):
        path.write_text("half")
    old = time.time() - STALE_TEMP_SECONDS - 1
    for path in stale:
        os.utime(path, (old, old))
    assert cli.main(["round", *common, "--mask-out", str(tmp_path / "b_mask.h5"),
                     "--mask-log", str(log), "--out", str(tmp_path / "b.h5")]) == 0  # fmt: skip
    assert live.exists() and not any(p.exists() for p in stale)  # the finished round swept
    assert "round 1 random keeps 1491/1864" in log.read_text()
    for a, b in (("a_mask.h5", "b_mask.h5"), ("a.h5", "b.h5")):
        (xa, aa), (xb, ab) = _arrays(tmp_path / a), _arrays(tmp_path / b)
        assert xa.keys() == xb.keys()
        for k in xa:
            if not k.startswith("curves/seconds"):
                np.testing.assert_array_equal(xa[k], xb[k], err_msg=k)
        assert aa["config_digest"] == ab["config_digest"]
    np.testing.assert_array_equal(_arrays(tmp_path / "a.h5")[0]["params/Conv_0/kernel"],
                                  _arrays(tmp_path / "b.h5")[0]["params/Conv_0/kernel"])  # fmt: skip


def test_a_finished_round_is_kept_unless_an_input_is_rewritten_or_recompute_is_asked(
    tmp_path, tiny_config, capsys, monkeypatch
):
    """A `train` job killed after its last write but before Snakemake recorded it is rerun
    (its outputs are update(), so not deleted first): the verb keeps the finished round and
    deletes the checkpoint such a kill can leave. An input written again (not only touched)
    or $EVOTICKETS_RECOMPUTE trains it again, to the same numbers."""
    init, settings = _random_chain(tmp_path, tiny_config)
    out, mask, mask_log = tmp_path / "trained.h5", tmp_path / "mask.h5", tmp_path / "mask.log"
    argv = ["round", "--settings", settings, "--round", "1", "--init", str(init),
            "--mask-out", str(mask), "--mask-log", str(mask_log), "--out", str(out)]  # fmt: skip

    def created():
        return [str(h5py.File(p)["/"].attrs["created"]) for p in (mask, out)]

    assert cli.main(argv) == 0
    first, numbers = created(), _arrays(out)[0]
    stale = tmp_path / "trained.ckpt.h5"
    stale.write_bytes(b"left by a kill between the rename and the checkpoint's removal")
    capsys.readouterr()
    assert cli.main(argv) == 0
    assert created() == first  # neither file written again
    assert "finished by an earlier run" in capsys.readouterr().out
    assert "finished by an earlier run" in mask_log.read_text()
    assert not stale.exists()
    stale.mkdir()  # a folder of the checkpoint's name: the kept round leaves it (it crashed)
    assert cli.main(argv) == 0
    assert created() == first and stale.is_dir()
    stale.rmdir()

    monkeypatch.setenv("EVOTICKETS_RECOMPUTE", "1")
    assert cli.main(argv) == 0
    again = created()
    assert again[0] != first[0] and again[1] != first[1]
    monkeypatch.delenv("EVOTICKETS_RECOMPUTE")
    recomputed = _arrays(out)[0]
    for k in numbers:
        if not k.startswith("curves/seconds"):
            np.testing.assert_array_equal(numbers[k], recomputed[k], err_msg=k)

    # an input newer by mtime alone (Snakemake touches the outputs of every job it ran, a
    # kept round's too) is the same file by its record: kept (the next rounds were retrained
    # after a harmless config change, to the same numbers)
    future = out.stat().st_mtime + 60
    os.utime(init, (future, future))
    assert cli.main(argv) == 0
    assert created()[1] == again[1]
    # an old-format θ0 put back (no write record): judged by its mtime, newer, so trained again
    with h5py.File(init, "a") as f:
        del f.attrs["created"]
    assert cli.main(argv) == 0
    assert created()[1] != again[1]
    again = created()
    _write_init(validate_config(tiny_config), init)  # θ0 written again: train the round again
    assert cli.main(argv) == 0
    assert created()[1] != again[1]

    # Snakemake, after a failed job, copies an update() output's backup back: an older round
    # with a fresh mtime. Here θ0 was rewritten after the round; the restored copies are
    # newer by mtime but were written before θ0: trained again, not kept.
    backups = {p: p.read_bytes() for p in (mask, out)}
    old_round = created()
    _write_init(validate_config(tiny_config), init)
    for path, data in backups.items():
        path.write_bytes(data)  # as shutil.copy does: the old content, a new mtime
    assert out.stat().st_mtime >= init.stat().st_mtime and created() == old_round
    capsys.readouterr()
    assert cli.main(argv) == 0
    assert "finished by an earlier run" not in capsys.readouterr().out
    assert created()[1] != old_round[1]


def test_a_failed_mask_step_is_in_the_mask_log_and_trains_nothing(tmp_path, tiny_config):
    cfg = validate_config(tiny_config)
    bad = tmp_path / "init.h5"
    bad.write_bytes(b"not an HDF5 file\n" * 64)
    settings = json.dumps(chain_settings(cfg, "digits", "snes", "magnitude", 0))
    log = tmp_path / "mask.log"
    rc = cli.main(["round", "--settings", settings, "--round", "0", "--init", str(bad),
                   "--mask-out", str(tmp_path / "mask.h5"), "--mask-log", str(log),
                   "--out", str(tmp_path / "trained.h5")])  # fmt: skip
    assert rc == 2
    assert "unreadable artifact" in log.read_text()
    assert not (tmp_path / "mask.h5").exists() and not (tmp_path / "trained.h5").exists()


def test_a_strategy_without_sigma_trains_and_prunes_by_magnitude(tmp_path, tiny_config, capsys):
    """gradientless_descent has no per-weight σ: its rounds write no sigma/ group, magnitude
    pruning reads them, and snr is refused by name."""
    tiny_config["es"] = {"num_generations": 4, "log_every": 4}
    tiny_config["strategies"]["gradientless_descent"] = {"population_size": 16, "std_init": 0.05}
    cfg = validate_config(tiny_config)
    init = tmp_path / "init.h5"
    _write_init(cfg, init)
    settings = json.dumps(chain_settings(cfg, "digits", "gradientless_descent", "magnitude", 0))
    out = {t: tmp_path / f"trained{t}.h5" for t in (0, 1)}
    for t in (0, 1):
        argv = ["round", "--settings", settings, "--round", str(t), "--init", str(init),
                "--mask-out", str(tmp_path / f"mask{t}.h5"), "--mask-log", str(tmp_path / "m.log"),
                "--out", str(out[t])]  # fmt: skip
        if t:
            argv += ["--prev-trained", str(out[0])]
        assert cli.main(argv) == 0
    with h5py.File(out[1]) as f:
        assert "sigma" not in f and f.attrs["kept_prunable"] == 1491
        assert 0.0 <= f.attrs["final_metric"] <= 1.0
    snr = json.dumps({**json.loads(settings), "method": "snr"})
    argv = ["mask", "--settings", snr, "--round", "1", "--init", str(init),
            "--prev-trained", str(out[0]), "--out", str(tmp_path / "x.h5")]  # fmt: skip
    capsys.readouterr()
    assert cli.main(argv) == 2
    assert "method snr is undefined for gradientless_descent" in capsys.readouterr().err


def test_a_control_that_does_not_rewind_is_refused_with_rewinding_settings(
    tmp_path, tiny_config, capsys
):
    """The config refuses late rewinding for methods defined relative to θ0; a hand-written
    settings file is refused too, before it trains the permuted ticket from round 0's rewind
    point (which would drop its permuted weights: a magnitude chain under another name)."""
    init, settings = _random_chain(tmp_path, tiny_config)
    permuted = json.dumps({**json.loads(settings), "method": "weight_permuted", "rewind": 2})
    argv = ["train", "--settings", permuted, "--round", "1", "--init", str(init),
            "--mask", str(tmp_path / "mask.h5"), "--out", str(tmp_path / "out.h5")]  # fmt: skip
    capsys.readouterr()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "weight_permuted is defined relative to θ0 and does not rewind" in err
    assert "set rewind to 0" in err and not (tmp_path / "out.h5").exists()


def test_round0_copied_from_the_donor_equals_training_it(tmp_path, tiny_config, capsys):
    """Round 0 is trained once per (task, strategy, seed): `--round0-from` copies the donor
    chain's round 0, bitwise what the chain computes itself, and refuses what is not one."""
    tiny_config["es"] = {"num_generations": 4, "log_every": 4}
    cfg = validate_config(tiny_config)
    init = tmp_path / "init.h5"
    _write_init(cfg, init)

    def round0(method, out, *extra):
        settings = json.dumps(chain_settings(cfg, "digits", "snes", method, 0))
        argv = ["round", "--settings", settings, "--round", "0", "--init", str(init),
                "--mask-out", str(tmp_path / f"{out}_mask.h5"),
                "--mask-log", str(tmp_path / "m.log"), "--out", str(tmp_path / out), *extra]  # fmt: skip
        return cli.main(argv)

    assert round0("random", "donor.h5") == 0
    assert round0("snr", "own.h5") == 0
    # a killed round-0 training left a temporary file beside the copy: swept as a trained
    # round sweeps its folder (an artifact-sized file each, kept forever before)
    stale = tmp_path / "copy.h5.999-deadbeef.tmp"
    stale.write_text("half")
    old = time.time() - STALE_TEMP_SECONDS - 1
    os.utime(stale, (old, old))
    assert round0("snr", "copy.h5", "--round0-from", str(tmp_path / "donor.h5")) == 0
    assert not stale.exists()
    (xo, ao), (xc, ac) = _arrays(tmp_path / "own.h5"), _arrays(tmp_path / "copy.h5")
    assert xo.keys() == xc.keys()
    for k in xo:
        if not k.startswith("curves/seconds"):
            np.testing.assert_array_equal(xo[k], xc[k], err_msg=k)
    assert ac.pop("round0_from") == str(tmp_path / "donor.h5")
    assert ac.pop("round0_from_digest") == _arrays(tmp_path / "donor.h5")[1]["config_digest"]
    assert ac["config_digest"] == ao["config_digest"] and ac["method"] == "snr"
    assert {k for k in ao if ao[k] != ac[k]} <= {"seconds"}
    # a donor of other settings (here another seed's chain) is refused, and nothing is written
    other = validate_config({**tiny_config, "seeds": [0, 1]})
    s1 = json.dumps(chain_settings(other, "digits", "snes", "snr", 1))
    init1 = tmp_path / "init1.h5"
    _write_init(other, init1, 1)
    argv = ["round", "--settings", s1, "--round", "0", "--init", str(init1),
            "--mask-out", str(tmp_path / "x_mask.h5"), "--mask-log", str(tmp_path / "m.log"),
            "--out", str(tmp_path / "x.h5"), "--round0-from", str(tmp_path / "donor.h5")]  # fmt: skip
    assert cli.main(argv) == 2 and not (tmp_path / "x.h5").exists()
    assert "of other chain settings" in capsys.readouterr().err
    # a permutation control's round 0 starts from other weights: never a donor, even with
    # its own digest and a dense mask (its file here: the donor's, relabelled)
    from evotickets.settings import ChainSettings

    permuted = tmp_path / "permuted.h5"
    shutil.copy(tmp_path / "donor.h5", permuted)
    spec = ChainSettings.from_dict(chain_settings(cfg, "digits", "snes", "random", 0))
    with h5py.File(permuted, "r+") as f:
        f.attrs["method"] = "weight_permuted"
        f.attrs["config_digest"] = spec.with_method("weight_permuted").digest()
    assert round0("snr", "y.h5", "--round0-from", str(permuted)) == 2
    assert not (tmp_path / "y.h5").exists()
    assert "is method weight_permuted, which cannot give snr" in capsys.readouterr().err
    # the donor's round 1 is not a round 0 (its digest is the chain's: the round refuses it)
    settings_r = json.dumps(chain_settings(cfg, "digits", "snes", "random", 0))
    t1 = tmp_path / "donor1.h5"
    assert cli.main(["round", "--settings", settings_r, "--round", "1", "--init", str(init),
                     "--prev-trained", str(tmp_path / "donor.h5"),
                     "--mask-out", str(tmp_path / "d1_mask.h5"),
                     "--mask-log", str(tmp_path / "m.log"), "--out", str(t1)]) == 0  # fmt: skip
    capsys.readouterr()
    assert round0("snr", "z.h5", "--round0-from", str(t1)) == 2
    assert not (tmp_path / "z.h5").exists()
    assert "is round 1 of other chain settings" in capsys.readouterr().err
    # a donor whose round 0 did not start dense at θ0 (here its mask, edited, digest kept)
    sparse = tmp_path / "sparse.h5"
    shutil.copy(tmp_path / "donor.h5", sparse)
    with h5py.File(sparse, "r+") as f:
        kernel = f["mask/Conv_0/kernel"]
        kernel[(0,) * kernel.ndim] = False
    assert round0("snr", "w.h5", "--round0-from", str(sparse)) == 2
    assert not (tmp_path / "w.h5").exists()
    assert "does not start from the dense θ0" in capsys.readouterr().err
    # a round whose own start is not θ0 (its mask dense): it trains its own round 0
    from evotickets.rounds import adopt_round0, load_init

    snr = ChainSettings.from_dict(chain_settings(cfg, "digits", "snes", "snr", 0))
    theta0, table, _, _ = load_init(str(init), snr)
    dense = np.ones(theta0.size, bool)
    with pytest.raises(ValueError, match="does not start from the dense θ0"):
        adopt_round0(snr, str(tmp_path / "donor.h5"), dense, theta0 + 1.0, theta0, table,
                     str(tmp_path / "v.h5"), config_digest=snr.digest())  # fmt: skip
    assert not (tmp_path / "v.h5").exists()
    adopt_round0(snr, str(tmp_path / "donor.h5"), dense, theta0.copy(), theta0, table,
                 str(tmp_path / "v.h5"), config_digest=snr.digest())  # fmt: skip
    assert (tmp_path / "v.h5").exists()


def test_a_round0_copy_holding_its_new_donors_numbers_is_kept_with_its_later_rounds(
    tmp_path, tiny_config, capsys, monkeypatch
):
    """Removing `random` from [random, magnitude, snr] makes magnitude the round-0 donor.
    snr's round 0, copied from random's, holds magnitude's numbers bitwise: it is kept,
    still naming the file it was copied from, and so is snr's round 1 (copied again, it was
    a new file to round 1, which trained again to the same numbers). The same when the
    methods are then swapped, when the old donor is trained again to the same numbers, and
    when the donor was trained in a group of another width: a copy is judged by its donor's
    numbers. A new donor with other numbers is copied, even one older than the copy."""
    tiny_config["es"] = {"num_generations": 4, "log_every": 4}
    cfg = validate_config(tiny_config)
    init = _write_init(cfg, tmp_path / "init.h5")

    def round_(method: str, t: int, *extra: str) -> str:
        settings = json.dumps(chain_settings(cfg, "digits", "snes", method, 0))
        argv = ["round", "--settings", settings, "--round", str(t), "--init", str(init),
                "--mask-out", str(tmp_path / f"{method}{t}_mask.h5"),
                "--mask-log", str(tmp_path / "m.log"), "--out", str(tmp_path / f"{method}{t}.h5"),
                *extra]  # fmt: skip
        capsys.readouterr()
        assert cli.main(argv) == 0
        return capsys.readouterr().out

    def created(name: str) -> str:
        with h5py.File(tmp_path / name) as f:
            return str(f.attrs["created"])

    round_("random", 0)
    for method in ("magnitude", "snr"):
        round_(method, 0, "--round0-from", str(tmp_path / "random0.h5"))
    round_("snr", 1, "--prev-trained", str(tmp_path / "snr0.h5"))
    before = {name: created(name) for name in ("magnitude0.h5", "snr0.h5", "snr1.h5")}

    # random removed: magnitude trains its own round 0 (its copy is kept), snr copies it
    assert "finished by an earlier run" in round_("magnitude", 0)
    future = time.time() + 60  # Snakemake touches the outputs of the jobs it ran
    os.utime(tmp_path / "magnitude0.h5", (future, future))
    assert "finished by an earlier run" in round_(
        "snr", 0, "--round0-from", str(tmp_path / "magnitude0.h5")
    )
    assert "finished by an earlier run" in round_(
        "snr", 1, "--prev-trained", str(tmp_path / "snr0.h5")
    )
    assert {name: created(name) for name in before} == before
    assert _arrays(tmp_path / "snr0.h5")[1]["round0_from"] == str(tmp_path / "random0.h5")

    # then [snr, magnitude]: snr trains its own round 0 (its copy is kept), magnitude copies
    # it (copied again, magnitude's was written again, and snr's, which records it, was stale)
    assert "finished by an earlier run" in round_("snr", 0)
    assert "finished by an earlier run" in round_(
        "magnitude", 0, "--round0-from", str(tmp_path / "snr0.h5")
    )
    assert {name: created(name) for name in before} == before
    for name in ("snr0.h5", "snr1.h5", "magnitude0.h5"):
        attrs = read_artifact(tmp_path / name, "trained", with_arrays=False)[1]
        assert stale_inputs(tmp_path / name, attrs) == [], name

    # the old donor trained again to the same numbers (a new write record): the copy that
    # records it is neither stale nor copied again (table refused it, and Snakemake, whose
    # inputs for it had not changed, never remade it)
    monkeypatch.setenv("EVOTICKETS_RECOMPUTE", "1")
    round_("random", 0)
    monkeypatch.delenv("EVOTICKETS_RECOMPUTE")
    for name in ("snr0.h5", "magnitude0.h5"):
        attrs = read_artifact(tmp_path / name, "trained", with_arrays=False)[1]
        assert stale_inputs(tmp_path / name, attrs) == [], name
    assert "finished by an earlier run" in round_(
        "magnitude", 0, "--round0-from", str(tmp_path / "random0.h5")
    )
    # how and where a round was trained is not its numbers: a vmapped group's width
    with h5py.File(tmp_path / "random0.h5", "r+") as f:
        f.attrs["group_program"], f.attrs["group_width"] = "vmapped", 2
    assert "finished by an earlier run" in round_(
        "magnitude", 0, "--round0-from", str(tmp_path / "random0.h5")
    )
    assert {name: created(name) for name in before} == before

    # a new donor whose numbers differ (here one weight changed) is copied, even one older
    # than the copy by its file time and its write record (by times alone it was kept)
    with h5py.File(tmp_path / "magnitude0.h5", "r+") as f:
        f["params/Conv_0/kernel"][0, 0, 0, 0] += 1.0
    past = time.time() - 3600
    os.utime(tmp_path / "magnitude0.h5", (past, past))
    assert "finished by an earlier run" not in round_(
        "snr", 0, "--round0-from", str(tmp_path / "magnitude0.h5")
    )
    copied, attrs = _arrays(tmp_path / "snr0.h5")
    np.testing.assert_array_equal(
        copied["params/Conv_0/kernel"],
        _arrays(tmp_path / "magnitude0.h5")[0]["params/Conv_0/kernel"],
    )
    assert attrs["round0_from"] == str(tmp_path / "magnitude0.h5")


def test_a_group_runs_each_member_after_the_members_it_reads():
    from evotickets.commands.chain import _inputs_first

    def member(name, **reads):
        return {"mask_out": f"{name}/mask.h5", "out": f"{name}/trained.h5", **reads}

    control = member("mask_permuted", source_mask="magnitude/mask.h5")
    copy = member("magnitude", round0_from="random/trained.h5")
    donor = member("random", init="init.h5")
    assert _inputs_first([control, copy, donor]) == [donor, copy, control]
    loop = [member("a", source_mask="b/mask.h5"), member("b", round0_from="a/trained.h5")]
    with pytest.raises(ValueError, match="cycle"):
        _inputs_first(loop)


def test_round_group_refuses_bad_members_and_logs_a_member_error(tmp_path, tiny_config, capsys):
    cfg = validate_config(tiny_config)
    assert cli.main(["round-group", "--members", "{not json"]) == 2
    assert cli.main(["round-group", "--members", '[{"settings": "{}"}]']) == 2
    err = capsys.readouterr().err
    assert "--members is not JSON" in err and "lacks" in err
    # no member: a job that trains nothing and succeeds would leave its outputs missing
    assert cli.main(["round-group", "--members", "[]"]) == 2
    assert "non-empty JSON list" in capsys.readouterr().err
    # a log option naming an HDF5 file (an artifact renamed by hand) never replaces it
    import h5py

    from evotickets.artifacts import ArtifactError
    from evotickets.commands.group import open_log

    kept = tmp_path / "train.log"
    with h5py.File(kept, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(ArtifactError, match="not a log"):
        open_log(kept)
    assert h5py.is_hdf5(kept)
    kept.unlink()
    bad = tmp_path / "init.h5"
    bad.write_bytes(b"not an HDF5 file\n" * 64)
    member = {
        "settings": chain_settings(cfg, "digits", "snes", "random", 0), "round": 0,
        "init": str(bad), "mask_out": str(tmp_path / "mask.h5"),
        "mask_log": str(tmp_path / "mask.log"), "out": str(tmp_path / "trained.h5"),
        "log": str(tmp_path / "train.log"),
    }  # fmt: skip
    assert cli.main(["round-group", "--members", json.dumps([member])]) == 2
    assert "unreadable artifact" in (tmp_path / "mask.log").read_text()
    assert "evotickets round: error: unreadable artifact" in (tmp_path / "train.log").read_text()
    assert not (tmp_path / "trained.h5").exists()


def test_a_vmapped_group_equals_the_sequential_group(tmp_path, tiny_config, capsys, monkeypatch):
    """`round-group --program vmapped`: round 0 trained once (its two copies after the donor)
    and round 1 of 4 methods × 2 seeds as one vmapped program of 8 chains (round 0: the 2
    seeds' donors and weight_permuted chains); every mask, weight and curve is bitwise that of `--program sequential`
    (before 6a3bedc the fitness values of this setting differed in the last bit, and before
    d5b5f15 Sep-CMA-ES's weights: evotickets/batch_invariant.py), with its own log, marked
    as trained by the group program."""
    tiny_config["es"] = {"num_generations": 4, "log_every": 2}
    # Sep-CMA-ES: evosax's own tell was not batch-invariant (evotickets/batch_invariant.py)
    tiny_config["strategies"] = {"sep_cma_es": {"population_size": 16, "std_init": 0.05}}
    # weight_permuted trains its own round 0 from the magnitude chain's mask of the round,
    # and magnitude's round 0 is a copy: its mask must be there before the shared training
    tiny_config["methods"] = ["random", "magnitude", "snr", "weight_permuted"]
    cfg = validate_config(tiny_config)
    methods, seeds = ("random", "magnitude", "snr", "weight_permuted"), (0, 1)
    inits = {}
    for seed in seeds:
        inits[seed] = tmp_path / f"init{seed}.h5"
        _write_init(cfg, inits[seed], seed)

    def members(folder, t):
        out = []
        for seed in seeds:
            for method in methods:
                base = folder / f"{method}{seed}"
                base.mkdir(parents=True, exist_ok=True)
                m = {
                    "settings": chain_settings(cfg, "digits", "sep_cma_es", method, seed), "round": t,
                    "init": str(inits[seed]), "mask_out": str(base / f"mask{t}.h5"),
                    "mask_log": str(base / f"mask{t}.log"), "out": str(base / f"trained{t}.h5"),
                    "log": str(base / f"train{t}.log"),
                }  # fmt: skip
                if t == 0 and method in ("magnitude", "snr"):
                    m["round0_from"] = str(folder / f"random{seed}" / "trained0.h5")
                if method == "weight_permuted":
                    m["source_mask"] = str(folder / f"magnitude{seed}" / f"mask{t}.h5")
                if t == 1:
                    m["prev_trained"] = str(base / "trained0.h5")
                out.append(m)
        return json.dumps(out)

    from evotickets.durable import SNAKEMAKE_BACKUPS

    monkeypatch.chdir(tmp_path)  # where Snakemake keeps its backups: .snakemake/ here
    backups = [
        SNAKEMAKE_BACKUPS / path.relative_to(path.anchor)
        for seed in seeds
        for method in methods
        for path in (
            tmp_path / "vmapped" / f"{method}{seed}" / f"{n}1.h5" for n in ("mask", "trained")
        )
    ]
    for program in ("sequential", "vmapped"):
        for t in (0, 1):
            if (program, t) == ("vmapped", 1):  # Snakemake's backups of the round's outputs
                for backup in backups:
                    backup.parent.mkdir(parents=True, exist_ok=True)
                    backup.write_text("an earlier round")
            argv = ["round-group", "--members", members(tmp_path / program, t), "--program",
                    program]  # fmt: skip
            assert cli.main(argv) == 0, capsys.readouterr().err
    assert "8 chains of D_active" in capsys.readouterr().out  # round 1: one program
    # written by the shared training, the rounds lost their backups at once (a job killed
    # later keeps them)
    assert not any(b.exists() for b in backups)
    for seed in seeds:
        for method in methods:
            for t in (0, 1):
                a = _arrays(tmp_path / "sequential" / f"{method}{seed}" / f"trained{t}.h5")
                b = _arrays(tmp_path / "vmapped" / f"{method}{seed}" / f"trained{t}.h5")
                assert a[0].keys() == b[0].keys()
                for k in a[0]:
                    np.testing.assert_array_equal(a[0][k], b[0][k], err_msg=k)
                differ = {k for k in a[1] if k in b[1] and np.any(a[1][k] != b[1][k])}
                assert differ <= {"seconds", "round0_from"}, differ  # its folder
                # round 0: the two seeds' donors in one program (the copies carry their attrs)
                assert b[1]["group_program"] == "vmapped" and "group_program" not in a[1]
                # its width: round 0's program held the 2 seeds' donors and weight_permuted
                # chains, round 1's all 8
                assert b[1]["group_width"] == (4 if t == 0 else 8)
                assert "group_width" not in a[1]
                log = tmp_path / "vmapped" / f"{method}{seed}" / f"train{t}.log"
                assert f"{method}/seed{seed}/iter{t:02d}] wrote" in log.read_text()
                ma, mb = (_arrays(tmp_path / p / f"{method}{seed}" / f"mask{t}.h5")[0]
                          for p in ("sequential", "vmapped"))  # fmt: skip
                for k in ma:
                    np.testing.assert_array_equal(ma[k], mb[k], err_msg=k)
    # a rerun that finds one member's round 1 gone trains that one alone, padded to the
    # group's 8 chains: its numbers are those it had in the whole group
    redo = tmp_path / "vmapped" / "snr1" / "trained1.h5"
    before = _arrays(redo)
    redo.unlink()
    assert cli.main(["round-group", "--members", members(tmp_path / "vmapped", 1), "--program",
                     "vmapped"]) == 0  # fmt: skip
    assert "1 chains of D_active" in (out := capsys.readouterr().out), out
    assert "(padded to the group's 8)" in out
    after = _arrays(redo)
    for k in before[0]:
        np.testing.assert_array_equal(before[0][k], after[0][k], err_msg=k)
    # a donor's round 0 deleted to recompute it: the rerun trains it, then judges the members
    # that adopt it against it (the check failed on the missing file before, every rerun).
    # Trained again to the same numbers, their copies stay as they are (copied again, every
    # later round of their chains trained again, to the same numbers); one whose numbers
    # differ from the new donor's is copied again
    donor = tmp_path / "vmapped" / "random1" / "trained0.h5"
    copy = tmp_path / "vmapped" / "snr1" / "trained0.h5"
    other = tmp_path / "vmapped" / "magnitude1" / "trained0.h5"
    kept, copied = _arrays(copy), copy.stat().st_mtime_ns
    with h5py.File(other, "r+") as f:
        f["params/Conv_0/kernel"][0, 0, 0, 0] += 1.0
    donor.unlink()
    assert cli.main(["round-group", "--members", members(tmp_path / "vmapped", 0), "--program",
                     "vmapped"]) == 0, capsys.readouterr().err  # fmt: skip
    assert donor.exists() and copy.stat().st_mtime_ns == copied
    for k in kept[0]:
        np.testing.assert_array_equal(kept[0][k], _arrays(donor)[0][k], err_msg=k)
        np.testing.assert_array_equal(kept[0][k], _arrays(other)[0][k], err_msg=k)
    # a rerun of a job as it left its files (killed after its last write, before Snakemake
    # saw it end) keeps every member, the copies too: a copy's mask is written before its
    # donor's round 0, which only the copy's trained.h5 reads (each output is judged against
    # what it reads; judged together, the copies were made again on every such rerun)
    zero = sorted((tmp_path / "vmapped").glob("*/*0.h5"))
    before = {f: (f.read_bytes(), f.stat().st_mtime_ns) for f in zero}
    assert cli.main(["round-group", "--members", members(tmp_path / "vmapped", 0), "--program",
                     "vmapped"]) == 0  # fmt: skip
    assert {f: (f.read_bytes(), f.stat().st_mtime_ns) for f in zero} == before
    # Snakemake gives a finished job's outputs one mtime; a rerun then keeps every member
    now = time.time_ns()
    for f in zero:
        os.utime(f, ns=(now, now))
    before = {f: f.read_bytes() for f in zero}
    assert cli.main(["round-group", "--members", members(tmp_path / "vmapped", 0), "--program",
                     "vmapped"]) == 0  # fmt: skip
    assert {f: f.read_bytes() for f in zero} == before


def _two_seeds(tmp_path, cfg, folder, round_index: int) -> list[dict]:
    """`round-group` members: round ``round_index`` of the digits SNES random chain of seeds 0
    and 1, their files in ``folder`` (made here), θ0 written once to ``tmp_path``."""
    out = []
    for seed in (0, 1):
        init = tmp_path / f"init{seed}.h5"
        if not init.exists():
            _write_init(cfg, init, seed)
        out.append({
            "settings": chain_settings(cfg, "digits", "snes", "random", seed), "round": round_index,
            "init": str(init), "mask_out": str(folder / f"mask{seed}.h5"),
            "mask_log": str(folder / f"mask{seed}.log"), "out": str(folder / f"trained{seed}.h5"),
            "log": str(folder / f"train{seed}.log"),
        })  # fmt: skip
    folder.mkdir()
    return out


@pytest.mark.parametrize(
    ("spec_change", "said"),
    [
        ({"batch_invariant": False}, "snes is not batch-invariant in a vmapped program"),
        # 5 GiB a chain fits alone; 2 chains in one program need 10, over the 8 GiB limit
        ({"memory": lambda pop, d: 5.0 * 2**30}, "2 chains of snes would need about 10.0 GiB"),
    ],
)
def test_a_vmapped_group_trains_alone_what_one_program_cannot_hold_exactly(
    tmp_path, tiny_config, capsys, monkeypatch, spec_change, said
):
    """A strategy that is not batch-invariant (EvoTF), or whose D² memory times the group's
    width exceeds MEMORY_LIMIT, trains each chain of a `--program vmapped` group alone in the
    one-chain program: bitwise `--program sequential`'s artifacts, not marked as vmapped, and
    the group's log says why. (SNES stands in for both, its spec changed: EvoTF and the D²
    strategies are too heavy for the digits CNN in a test.)"""
    import dataclasses

    from evotickets import strategies

    spec = strategies.REGISTRY["snes"]
    monkeypatch.setitem(strategies.REGISTRY, "snes", dataclasses.replace(spec, **spec_change))
    tiny_config["es"] = {"num_generations": 4, "log_every": 2}
    cfg = validate_config(tiny_config)

    for program in ("sequential", "vmapped"):
        members = json.dumps(_two_seeds(tmp_path, cfg, tmp_path / program, 1))
        argv = ["round-group", "--members", members, "--program", program]
        assert cli.main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert out.count(f"{said}") == 2 and "chains of D_active" not in out, out  # no program
    assert "it trains alone, in the one-chain program" in out
    for seed in (0, 1):
        a = _arrays(tmp_path / "sequential" / f"trained{seed}.h5")
        b = _arrays(tmp_path / "vmapped" / f"trained{seed}.h5")
        assert a[0].keys() == b[0].keys()
        for k in a[0]:
            np.testing.assert_array_equal(a[0][k], b[0][k], err_msg=k)
        assert "group_program" not in b[1]


def test_a_vmapped_group_stopped_after_its_checkpoints_resumes_bitwise(
    tmp_path, tiny_config, monkeypatch
):
    """A `round-group --program vmapped` job that dies right after its chains' first
    checkpoints: the rerun resumes every chain from its checkpoint (they join again in one
    program) and writes artifacts bitwise those of an uninterrupted vmapped run."""
    from evotickets.checkpoint import Checkpointer

    tiny_config["es"] = {"num_generations": 30, "log_every": 10}
    cfg = validate_config(tiny_config)

    def members(folder):
        return ["round-group", "--members", json.dumps(_two_seeds(tmp_path, cfg, folder, 0)),
                "--program", "vmapped", "--checkpoint-every", "10"]  # fmt: skip

    assert cli.main(members(tmp_path / "whole")) == 0
    saved, save = [], Checkpointer.save

    def save_then_die(self, *a, **kw):
        save(self, *a, **kw)
        saved.append(self.path)
        if len(saved) == 2:  # both chains' checkpoints at generation 10 are on disk
            raise KeyboardInterrupt("killed")

    argv = members(tmp_path / "killed")
    monkeypatch.setattr(Checkpointer, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        cli.main(argv)
    monkeypatch.undo()
    assert all(p.exists() for p in saved) and not any((tmp_path / "killed").glob("trained?.h5"))
    # the same killed job rerun in the one-chain program does not resume the group program's
    # checkpoints (on a GPU their last bits differ): it starts over and says why
    shutil.copytree(tmp_path / "killed", tmp_path / "other")
    other = argv[2].replace(str(tmp_path / "killed"), str(tmp_path / "other"))
    assert cli.main(["round-group", "--members", other, "--program", "sequential"]) == 0
    for seed in (0, 1):
        log = (tmp_path / "other" / f"train{seed}.log").read_text()
        assert "ignoring checkpoint" in log, log
        assert "written by the vmapped program of 2 chains, and this round runs in the " in log
        assert "one-chain program" in log
    assert cli.main(argv) == 0
    for seed in (0, 1):
        assert "resum" in (tmp_path / "killed" / f"train{seed}.log").read_text().lower()
        a, b = (_arrays(tmp_path / d / f"trained{seed}.h5") for d in ("whole", "killed"))
        for k in a[0]:
            np.testing.assert_array_equal(a[0][k], b[0][k], err_msg=k)
        assert {k for k in a[1] if np.any(a[1][k] != b[1][k])} <= {"seconds"}
    assert not list((tmp_path / "killed").glob("*.ckpt*"))  # removed with the artifacts


def test_a_round_that_diverged_is_not_written(tmp_path):
    """θ or σ non-finite on active weights at the round's end: an error naming the round and
    the fix, no trained.h5 (it passed for a finished round; the next round's mask then called
    it corrupt). Pruned entries do not count."""
    from types import SimpleNamespace

    from evotickets.rounds import write_trained

    mask = np.array([True, True, False, True])
    out = tmp_path / "trained.h5"
    p = SimpleNamespace(settings=None, mask=mask, prunable=np.ones(4, bool), label="digits/snes/snr",
                        t=3, out_path=out)  # fmt: skip
    theta = np.array([0.1, np.nan, np.nan, 0.2], np.float32)
    res = SimpleNamespace(final_mask=None, theta=theta, sigma=np.ones(4, np.float32))
    with pytest.raises(ValueError, match=r"digits/snes/snr: round 3 .*1 of 3 active θ.*std_init"):
        write_trained(p, res)
    res.theta, res.sigma = np.array([0.1, 0.3, np.nan, 0.2]), np.array([1.0, np.inf, 1.0, 1.0])
    with pytest.raises(ValueError, match="1 of 3 active σ"):
        write_trained(p, res)
    assert not out.exists()


def test_a_round_made_from_an_input_written_again_is_refused_as_stale(
    tmp_path, tiny_config, monkeypatch
):
    """Each mask and trained round records when its inputs were written. After a failed job
    Snakemake puts that job's earlier outputs back and records it as finished, so a round
    made from the previous round as it was before it was remade stays, and the next run
    plans nothing: the reports (results.FinishedRounds: collect, table) refuse it, naming
    it, and the verb does not keep it. One reading reads each input's write time once; a new
    reading reads it again."""
    from evotickets import paths
    from evotickets import results as results_module
    from evotickets.artifacts import ArtifactError, written_at
    from evotickets.results import FinishedRounds, StaleArtifact

    def rounds_of_chain(cfg, results, chain):
        return FinishedRounds(cfg, results).of_chain(chain)

    cfg, results, init, chain = _magnitude_chain_of_one_seed(
        tmp_path, tiny_config, ["random", "magnitude"], generations=4
    )
    settings = json.dumps(chain_settings(cfg, *chain))

    def run_round(t):
        def f(name):
            return str(tmp_path / paths.round_file(name, "tiny", *chain, t))

        Path(f("mask.log")).parent.mkdir(parents=True, exist_ok=True)
        argv = [
            "round",
            "--settings",
            settings,
            "--round",
            str(t),
            "--init",
            str(init),
            "--mask-out",
            f("mask.h5"),
            "--mask-log",
            f("mask.log"),
            "--out",
            f("trained.h5"),
        ]
        if t:
            argv += [
                "--prev-trained",
                str(tmp_path / paths.round_file("trained.h5", "tiny", *chain, t - 1)),
            ]
        assert cli.main(argv) == 0  # fmt: skip
        return Path(f("trained.h5"))

    run_round(0)
    one = run_round(1)
    assert sorted(rounds_of_chain(cfg, results, chain)) == [0, 1]
    monkeypatch.setenv("EVOTICKETS_RECOMPUTE", "1")  # round 0 remade (same numbers, new file)
    run_round(0)
    monkeypatch.delenv("EVOTICKETS_RECOMPUTE")
    with pytest.raises(ArtifactError, match=r"iter01/mask.h5 was made from .*iter00/trained.h5"):
        rounds_of_chain(cfg, results, chain)
    before = one.read_bytes()
    run_round(1)  # the verb does not keep it: made again from the round 0 there now
    assert one.read_bytes() != before
    reads = []
    with monkeypatch.context() as m:
        m.setattr(results_module, "written_at", lambda p: reads.append(p) or written_at(p))
        assert sorted(rounds_of_chain(cfg, results, chain)) == [0, 1]
    # its 4 artifacts (2 masks, 2 trained) record init.h5 and the rounds' files: each read once
    assert len(reads) == len(set(reads)) >= 3, reads
    assert any(p.endswith("init.h5") for p in reads), reads
    # θ0 written again: each chain's round 0 is stale; collect's reader names both at once,
    # with the command that deletes them
    other = ("digits", "snes", "random", 0)
    settings = json.dumps(chain_settings(cfg, *other))
    chain = other
    run_round(0)
    monkeypatch.setenv("EVOTICKETS_RECOMPUTE", "1")
    _write_init(cfg, init)
    monkeypatch.delenv("EVOTICKETS_RECOMPUTE")
    with pytest.raises(StaleArtifact, match="2 stale results") as err:
        list(FinishedRounds(cfg, results).chain_rounds())
    assert sorted(p.parent.parent.parent.name for p in err.value.paths) == ["magnitude", "random"]
    assert all(p.parent.name == "iter00" for p in err.value.paths), err.value.paths
    assert str(err.value).endswith("rm " + " ".join(str(p) for p in err.value.paths))


def test_an_analysis_of_a_round_written_again_is_refused_as_stale(
    tmp_path, tiny_config, monkeypatch
):
    """An analysis records when the rounds it read were written: once a round is written
    again (a failed job's backup put back, a hand rerun), `collect` refused the round's
    stale successors but put the analysis of the old round beside the new metric."""
    from evotickets import paths
    from evotickets.analysis.collect import collect
    from evotickets.results import StaleArtifact

    tiny_config["analyses"] = {"enabled": ["layerwise", "snr_magnitude"], "methods": ["magnitude"]}
    cfg, results, init, chain = _magnitude_chain_of_one_seed(
        tmp_path, tiny_config, ["magnitude"], generations=2
    )
    settings = json.dumps(chain_settings(cfg, *chain))

    def f(name, t):
        return str(tmp_path / paths.round_file(name, "tiny", *chain, t))

    for t in (0, 1):
        _train_round(settings, init, f, t)
    layerwise = Path(paths.chain_analysis("layerwise.h5", None, *chain, root=results))
    argv = ["layerwise", "--settings", settings, "--init", str(init), "--out", str(layerwise)]
    # a round given twice was stored twice (exit 0)
    twice = [*argv[:-1], str(tmp_path / "twice.h5"), "--trained", f("trained.h5", 1)]
    assert cli.main([*twice, f("trained.h5", 1)]) == 2
    assert not (tmp_path / "twice.h5").exists()
    assert cli.main([*argv, "--trained", f("trained.h5", 0), f("trained.h5", 1)]) == 0
    snr_magnitude = Path(paths.chain_analysis("snr_magnitude.h5", None, *chain, root=results))
    argv_snr = ["snr-magnitude", *argv[1:-1], str(snr_magnitude)]
    assert cli.main([*argv_snr, "--trained", f("trained.h5", 0), f("trained.h5", 1)]) == 0
    kept = collect(cfg, results).layer_kept_ratio.sel({"method": "magnitude", "seed": 0})
    assert np.isfinite(kept.values).all()
    # a config of fewer rounds reads the analyses' rows of its rounds (an index past the end
    # failed collect)
    fewer = collect(validate_config({**tiny_config, "rounds": 1}), results)
    assert fewer.layer_kept_ratio.sizes["iteration"] == 1
    np.testing.assert_array_equal(
        fewer.layer_kept_ratio.sel({"method": "magnitude", "seed": 0}).values,
        kept.isel(iteration=[0]).values,
    )
    monkeypatch.setenv("EVOTICKETS_RECOMPUTE", "1")  # round 1 written again, same settings
    argv = ["round", "--settings", settings, "--round", "1", "--init", str(init)]
    argv += ["--mask-out", f("mask.h5", 1), "--mask-log", f("mask.log", 1)]
    argv += ["--out", f("trained.h5", 1), "--prev-trained", f("trained.h5", 0)]
    assert cli.main(argv) == 0
    monkeypatch.delenv("EVOTICKETS_RECOMPUTE")
    with pytest.raises(StaleArtifact, match=r"was made from .*iter01/trained.h5") as err:
        collect(cfg, results)
    # every stale analysis at once, with the command that deletes them (one per run before)
    assert set(err.value.paths) == {snr_magnitude, layerwise}
    assert "one of 2 stale results" in str(err.value) and str(layerwise) in str(err.value)


def test_an_analysis_of_the_same_inputs_is_put_back_not_computed_again(
    tmp_path, tiny_config, monkeypatch, capsys
):
    """Snakemake reruns every analysis of a round whose job it reruns, though the job kept
    the round as it was (a grouping change, a forced train): the analysis verbs put back the
    result of the same arguments, input bytes and software (evotickets.analysis_memo), and
    compute for anything else: other rounds or options, a round written again, other
    software, EVOTICKETS_RECOMPUTE, a damaged kept file; and a finished artifact of another
    kind at --out is refused before a kept result could replace it."""
    from evotickets import analysis_memo, checkpoint, paths

    cfg, results, init, chain = _magnitude_chain_of_one_seed(
        tmp_path, tiny_config, ["magnitude"], generations=2
    )
    settings = json.dumps(chain_settings(cfg, *chain))

    def f(name, t):
        return str(tmp_path / paths.round_file(name, "tiny", *chain, t))

    def train(t):
        _train_round(settings, init, f, t)

    def written(path):
        with h5py.File(path) as h5:
            return str(h5.attrs["created"])

    errors = [""]  # the last run's stderr

    def run(argv, out):
        """The verb's run as Snakemake makes it (the output deleted first): whether it put
        the result back, and the output's write time."""
        Path(out).unlink(missing_ok=True)
        capsys.readouterr()
        assert cli.main(argv) == 0
        said = capsys.readouterr()
        errors[:] = [said.err]
        return "put back from" in said.out, written(out)

    train(0), train(1)
    out = Path(paths.chain_analysis("layerwise.h5", None, *chain, root=results))
    rounds = ["--trained", f("trained.h5", 0), f("trained.h5", 1)]
    argv = ["layerwise", "--settings", settings, "--init", str(init), "--out", str(out), *rounds]
    computed, first = run(argv, out)
    assert not computed
    data = out.read_bytes()
    future = time.time() + 60
    os.utime(f("trained.h5", 1), (future, future))  # touched, as Snakemake touches a kept round
    assert run(argv, out) == (True, first)
    assert out.read_bytes() == data and out.stat().st_mtime > time.time() - 30
    assert len(list((out.parent / analysis_memo.KEPT_FOLDER).iterdir())) == 1  # one a result
    assert run([*argv[:-1]], out)[0] is False  # other rounds (round 0 alone)
    assert run(argv, out)[0] is False  # and back: only the latest result is kept
    assert run(argv, out) == (True, written(out))
    monkeypatch.setenv("EVOTICKETS_RECOMPUTE", "1")  # computed though a kept result exists
    assert run(argv, out)[0] is False
    monkeypatch.delenv("EVOTICKETS_RECOMPUTE")
    assert run(argv, out) == (True, written(out))
    # a finished artifact of another kind at --out (here θ0) is refused before a kept result
    # of these arguments could replace it
    theta0 = Path(init).read_bytes()
    out.write_bytes(theta0)
    capsys.readouterr()
    assert cli.main(argv) != 0
    assert "init" in capsys.readouterr().err and out.read_bytes() == theta0
    out.unlink()
    monkeypatch.setenv("EVOTICKETS_RECOMPUTE", "1")
    train(1)  # round 1 written again: the same numbers, another file
    assert run(argv, out)[0] is False
    monkeypatch.delenv("EVOTICKETS_RECOMPUTE")
    assert run(argv, out)[0] is True  # what RECOMPUTE computed was kept
    monkeypatch.setattr(
        checkpoint, "software_fingerprint", lambda: ("evotickets-source=other",)
    )  # a code change
    assert run(argv, out)[0] is False
    monkeypatch.undo()
    # a kept file damaged on disk is computed again, without an error
    assert run(argv, out)[0] is False and run(argv, out)[0] is True
    (kept,) = (out.parent / analysis_memo.KEPT_FOLDER).iterdir()
    kept.write_bytes(kept.read_bytes()[:2000])
    assert run(argv, out)[0] is False
    with h5py.File(out) as h5:
        assert h5["kept_ratio"].shape[0] == 2
    # the key names the variables that choose the device, and the analysis packages
    import argparse

    ns = argparse.Namespace(settings=settings, out=str(out), trained=rounds[1:])
    devices = (("EVOTICKETS_PLATFORM", "cpu"), ("JAX_ENABLE_X64", "1"),
               ("EVOTICKETS_CPU_DEVICES", "2"))  # fmt: skip
    for name, _ in devices:
        monkeypatch.delenv(name, raising=False)
    key = analysis_memo.analysis_key("layerwise", ns, rounds[1:])
    for name, value in devices:
        monkeypatch.setenv(name, value)
        assert analysis_memo.analysis_key("layerwise", ns, rounds[1:]) != key, name
        monkeypatch.delenv(name)
    # ... the verb and its settings (another task_config over the same rounds)
    assert analysis_memo.analysis_key("snr-magnitude", ns, rounds[1:]) != key
    other = argparse.Namespace(settings=settings + " ", out=str(out), trained=rounds[1:])
    assert analysis_memo.analysis_key("layerwise", other, rounds[1:]) != key
    assert analysis_memo.analysis_key("layerwise", ns, rounds[1:]) == key
    assert any(s.startswith("scipy=") for s in analysis_memo._analysis_software())

    # a round written again while the verb read it (a second writer): the result, made from
    # the new bytes, is not kept under the old bytes' key, and a kept result whose record of
    # its rounds does not match them now is never put back
    one = Path(f("trained.h5", 1))
    old = one.read_bytes()
    monkeypatch.setenv("EVOTICKETS_RECOMPUTE", "1")
    train(1)
    monkeypatch.delenv("EVOTICKETS_RECOMPUTE")
    new = one.read_bytes()
    one.write_bytes(old)
    key_of = analysis_memo.analysis_key

    def key_then_rewrite(*a):
        key = key_of(*a)
        one.write_bytes(new)  # after the key was taken, before the rounds are read
        return key

    for kept in (out.parent / analysis_memo.KEPT_FOLDER).iterdir():
        kept.unlink()
    monkeypatch.setattr(analysis_memo, "analysis_key", key_then_rewrite)
    assert run(argv, out)[0] is False
    monkeypatch.setattr(analysis_memo, "analysis_key", key_of)
    assert not list((out.parent / analysis_memo.KEPT_FOLDER).iterdir())
    one.write_bytes(new)
    assert run(argv, out)[0] is False  # kept under the key of the new bytes
    one.write_bytes(old)  # the old bytes back: their key, with a record of the new bytes
    (kept,) = (out.parent / analysis_memo.KEPT_FOLDER).iterdir()
    ns = cli.build_parser().parse_args(argv)
    kept.rename(analysis_memo.kept_path(out, key_of("layerwise", ns, [str(init), *rounds[1:]])))
    assert run(argv, out)[0] is False  # refused by its record, computed
    assert not stale_inputs(out, read_artifact(out, "analysis")[1])

    # keeping a copy is a saving: a full disk there warns, and the job has its result
    import shutil as shutil_module

    def full(src, dst, *a, **k):
        if analysis_memo.KEPT_FOLDER in str(dst):
            raise OSError(28, "No space left on device")
        return shutil_module.copyfile(src, dst)

    monkeypatch.setattr(analysis_memo.shutil, "copyfile", full)
    for kept in (out.parent / analysis_memo.KEPT_FOLDER).iterdir():
        kept.unlink()
    assert run([*argv[:-1]], out)[0] is False
    assert "could not keep a copy" in errors[0] and out.exists()
    monkeypatch.undo()

    lmc = str(tmp_path / "lmc.h5")
    argv_lmc = ["lmc", "--kind", "consecutive", "--settings", settings, "--init", str(init),
                "--analysis", '{"alphas": 3}', "--left", f("trained.h5", 0),
                "--right", f("trained.h5", 1), "--out", lmc]  # fmt: skip
    assert run(argv_lmc, lmc)[0] is False
    assert run(argv_lmc, lmc)[0] is True
    other = [a.replace('"alphas": 3', '"alphas": 4') for a in argv_lmc]  # other options
    assert run(other, lmc)[0] is False
    with h5py.File(lmc) as h5:
        assert h5["alpha"].shape == (4,)
    # a kept result never replaces a finished artifact of another analysis at its --out
    assert cli.main([*argv[:6], lmc, *rounds]) == 2
    with h5py.File(lmc) as h5:
        assert h5.attrs["analysis"] == "lmc"


def test_a_vmapped_group_writes_its_finite_members_before_naming_a_diverged_one(
    tmp_path, tiny_config, monkeypatch, capsys
):
    """One member of a vmapped program ends with a non-finite θ: the others' rounds are
    written (they were thrown away when the first diverged member raised), and the error
    names the diverged one."""
    import dataclasses

    from evotickets.train import trainers

    tiny_config["es"] = {"num_generations": 4, "log_every": 2}
    cfg = validate_config(tiny_config)
    real = trainers.train_es_lockstep

    def first_diverges(members, width):
        results = real(members, width)
        bad = np.array(results[0].theta, copy=True)
        bad[0] = np.nan  # an active weight of seed 0's round 0 (dense)
        return [dataclasses.replace(results[0], theta=bad), *results[1:]]

    monkeypatch.setattr(trainers, "train_es_lockstep", first_diverges)
    members = _two_seeds(tmp_path, cfg, tmp_path / "group", 0)
    argv = ["round-group", "--members", json.dumps(members), "--program", "vmapped"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "seed0" in err and "ended with non-finite values (1 of" in err, err
    assert not (tmp_path / "group" / "trained0.h5").exists()
    assert (tmp_path / "group" / "trained1.h5").exists()


def test_a_round0_copys_mask_is_judged_against_what_the_mask_verb_read(tmp_path, tiny_config):
    """magnitude adopts random's round 0 and its mask reads θ0: a θ0 newer than the copy's
    mask makes it stale, as for any chain, though the copy's trained.h5 comes from its donor.
    (The permutation controls, whose masks read the magnitude mask, train their own round 0
    since mask_permuted's θ0 moves with its mask.)"""
    import argparse

    from evotickets.commands.chain import _copy_mask_current
    from evotickets.pruning import adopts_round0

    tiny_config["methods"] = ["random", "magnitude", "mask_permuted"]
    cfg = validate_config(tiny_config)
    assert adopts_round0("magnitude", "random") and not adopts_round0("mask_permuted", "random")
    init = tmp_path / "init.h5"
    _write_init(cfg, init)
    settings = json.dumps(chain_settings(cfg, "digits", "snes", "magnitude", 0))
    argv = ["mask", "--settings", settings, "--round", "0", "--init", str(init),
            "--out", str(tmp_path / "copy_mask.h5")]  # fmt: skip
    assert cli.main(argv) == 0
    member = argparse.Namespace(
        settings=settings, round=0, init=str(init), prev_trained=None,
        source_mask=None, mask_out=str(tmp_path / "copy_mask.h5"),
    )  # fmt: skip
    assert _copy_mask_current(member)
    later = time.time() + 5
    os.utime(init, (later, later))  # touched: the same θ0 by its record
    assert _copy_mask_current(member)
    _write_init(cfg, init)  # written again
    assert not _copy_mask_current(member)


def _train_round(settings: str, init, f, t: int) -> None:
    """Round ``t`` of a chain through the round verb, its files where ``f(name, t)`` says."""
    Path(f("mask.log", t)).parent.mkdir(parents=True, exist_ok=True)
    argv = ["round", "--settings", settings, "--round", str(t), "--init", str(init)]
    argv += ["--mask-out", f("mask.h5", t), "--mask-log", f("mask.log", t)]
    argv += ["--out", f("trained.h5", t)]
    argv += ["--prev-trained", f("trained.h5", t - 1)] if t else []
    assert cli.main(argv) == 0


def _magnitude_chain_of_one_seed(tmp_path, tiny_config, methods, generations):
    """A 2-round tiny config of seed 0 with θ0 written where the workflow puts it:
    (cfg, results folder, init path, the magnitude chain)."""
    from evotickets import paths

    tiny_config.update(es={"num_generations": generations, "log_every": generations},
                       seeds=[0], rounds=2, methods=methods)  # fmt: skip
    cfg = validate_config(tiny_config)
    init = tmp_path / paths.init(exp="tiny", task="digits", seed=0)
    init.parent.mkdir(parents=True)
    _write_init(cfg, init)
    return cfg, tmp_path / "results" / "tiny", init, ("digits", "snes", "magnitude", 0)


def test_a_round_file_in_another_rounds_folder_is_refused_by_the_reports(tmp_path, tiny_config):
    """The reports file a round by its folder (iterNN): a trained.h5 copied by hand into
    another round's folder would be reported as that round; it records its own, so it is
    refused, naming both."""
    import shutil

    from evotickets import paths
    from evotickets.artifacts import ArtifactError
    from evotickets.results import FinishedRounds

    cfg, results, init, chain = _magnitude_chain_of_one_seed(
        tmp_path, tiny_config, ["magnitude"], generations=2
    )

    def f(name, t):
        return tmp_path / paths.round_file(name, "tiny", *chain, t)

    f("mask.h5", 0).parent.mkdir(parents=True)
    argv = ["round", "--settings", json.dumps(chain_settings(cfg, *chain)), "--round", "0",
            "--init", str(init), "--mask-out", str(f("mask.h5", 0)),
            "--mask-log", str(f("mask.log", 0)), "--out", str(f("trained.h5", 0))]  # fmt: skip
    assert cli.main(argv) == 0
    assert set(FinishedRounds(cfg, results).of_chain(chain)) == {0}
    f("trained.h5", 1).parent.mkdir(parents=True)
    shutil.copy2(f("trained.h5", 0), f("trained.h5", 1))
    with pytest.raises(
        ArtifactError, match=r"iter01/trained.h5 sits in the folder of round 1 but records 0"
    ):
        FinishedRounds(cfg, results).of_chain(chain)


def test_an_input_written_again_during_training_leaves_the_round_stale(
    tmp_path, tiny_config, monkeypatch
):
    """A round records its inputs' write times as they were when it read them, not when it
    writes its trained.h5 after training: θ0 written again meanwhile (a second run by hand)
    makes the round stale, where recording the new time hid it for good."""
    from evotickets.artifacts import read_artifact, stale_inputs
    from evotickets.train import trainers

    init, settings = _random_chain(tmp_path, tiny_config)
    cfg = validate_config(tiny_config)
    common = ["--settings", settings, "--round", "0", "--init", str(init)]
    assert cli.main(["mask", *common, "--out", str(tmp_path / "mask.h5")]) == 0
    real = trainers.trainer_for

    def trainer_for(strategy):
        train = real(strategy)

        def train_then_rewrite_init(*args, **kwargs):
            out = train(*args, **kwargs)
            with monkeypatch.context() as m:
                m.setenv("EVOTICKETS_RECOMPUTE", "1")
                _write_init(cfg, init)
            return out

        return train_then_rewrite_init

    monkeypatch.setattr(trainers, "trainer_for", trainer_for)
    out = tmp_path / "trained.h5"
    argv = ["train", *common, "--mask", str(tmp_path / "mask.h5"), "--out", str(out)]
    assert cli.main(argv) == 0
    _, attrs = read_artifact(out, "trained")
    assert stale_inputs(out, attrs) == [str(init)]


def test_a_vmapped_groups_error_is_in_the_log_of_the_member_it_concerns(tmp_path, monkeypatch):
    """An error in the shared training goes to the logs of the rounds it concerns (here the
    one that diverged); the other members' logs, one of them written before it, say only
    that the group stopped (each read the other member's divergence as its own before)."""
    import argparse
    from types import SimpleNamespace

    from evotickets.commands import group
    from evotickets.rounds import RoundDiverged

    members = [
        argparse.Namespace(round=1, out=str(tmp_path / f"{k}.h5"), log=str(tmp_path / f"{k}.log"))
        for k in ("a", "b", "c")
    ]

    def train_together(prepared, width):  # as if a had been written, then b diverged
        err = RoundDiverged("[b] round 1 ended with non-finite values")
        err.rounds = [prepared[1].out_path]
        raise err

    monkeypatch.setattr(group, "train_together", train_together)
    with pytest.raises(RoundDiverged):
        group.run_members_together(
            members, "round", lambda m, write: SimpleNamespace(out_path=m.out),
            finished=lambda m: False, kept=None, in_program=lambda m: True,
        )  # fmt: skip
    logs = {k: (tmp_path / f"{k}.log").read_text() for k in ("a", "b", "c")}
    assert "error in the group's shared training: [b]" in logs["b"]
    for k in ("a", "c"):
        assert "non-finite" not in logs[k] and "another member's training" in logs[k], logs


def test_the_next_rounds_mask_keeps_the_best_scores_of_the_trained_round(tmp_path, tiny_config):
    """Round 1's mask, made from round 0's trained.h5, keeps the remaining count's largest
    |θ| (magnitude) and |θ|/σ (snr: the σ the round stored) among the prunable weights,
    scored here by hand; random draws a fresh mask from each round's own key, so round 2's
    is no subset of round 1's. (The counts alone, which the other tests check, hold for any
    choice of weights.)"""
    from evotickets.artifacts import artifact_vector, read_artifact
    from evotickets.keys import chain_key, mask_key, permutation, round_key
    from evotickets.pruning import remaining_count
    from evotickets.rounds import load_init
    from evotickets.settings import ChainSettings

    tiny_config["es"] = {"num_generations": 4, "log_every": 4}
    cfg = validate_config(tiny_config)
    init = _write_init(cfg, tmp_path / "init.h5")

    def vector(path, group, kind):
        arrays, _ = read_artifact(path, kind)
        return artifact_vector(arrays, group, table, path, kind)

    def run(method, t, prev=None):
        settings = json.dumps(chain_settings(cfg, "digits", "snes", method, 0))
        f = {k: tmp_path / f"{method}{t}_{k}.h5" for k in ("mask", "trained")}
        argv = ["round", "--settings", settings, "--round", str(t), "--init", str(init),
                "--mask-out", str(f["mask"]), "--mask-log", str(tmp_path / "m.log"),
                "--out", str(f["trained"])]  # fmt: skip
        assert cli.main(argv + (["--prev-trained", str(prev)] if prev else [])) == 0
        return f

    spec = ChainSettings.from_dict(chain_settings(cfg, "digits", "snes", "magnitude", 0))
    _, table, prunable, _ = load_init(str(init), spec)
    keep = remaining_count(int(prunable.sum()), cfg["prune_fraction"], 1)
    for method in ("magnitude", "snr"):
        first = run(method, 0)
        second = run(method, 1, prev=first["trained"])
        theta = vector(first["trained"], "params", "trained")
        score = np.abs(theta)
        if method == "snr":
            score = score / vector(first["trained"], "sigma", "trained")
        best = np.flatnonzero(prunable)[np.argsort(-score[prunable], kind="stable")[:keep]]
        want = ~prunable
        want[best] = True
        np.testing.assert_array_equal(vector(second["mask"], "mask", "mask").astype(bool), want)
    masks = {}
    for t in (1, 2):
        masks[t] = vector(run("random", t, prev=None)["mask"], "mask", "mask").astype(bool)
        ck = chain_key(0, "digits", "snes")
        perm = permutation(mask_key(round_key(ck, t)), int(prunable.sum()))
        kept = np.flatnonzero(prunable)[perm[: remaining_count(int(prunable.sum()), 0.2, t)]]
        assert set(np.flatnonzero(masks[t] & prunable)) == set(kept)
    assert np.any(masks[2] & ~masks[1])  # drawn afresh: not nested


def test_a_log_option_never_replaces_a_finished_file(tmp_path, tiny_config, capsys):
    """`--mask-log` naming the round's own input (or any file not named *.log) turned a
    finished trained.h5 into text, exit 0; a folder, or a missing one, ended in a traceback."""
    init, settings = _random_chain(tmp_path, tiny_config)
    argv = ["round", "--settings", settings, "--round", "1", "--init", str(init),
            "--mask-out", str(tmp_path / "mask.h5")]  # fmt: skip
    before = init.read_bytes()
    for log, why in ((init, "is an existing file that is not a log"), (tmp_path, "is a folder")):
        assert cli.main([*argv, "--mask-log", str(log), "--out", str(tmp_path / "t.h5")]) == 2
        assert why in capsys.readouterr().err
    assert init.read_bytes() == before and not (tmp_path / "t.h5").exists()
    fresh = tmp_path / "new" / "folder" / "mask.log"  # made, as an output's folder is
    assert cli.main([*argv, "--mask-log", str(fresh), "--out", str(tmp_path / "t.h5")]) == 0
    assert "keeps" in fresh.read_text()
    # the round is finished now: keeping it writes its logs, through the same guard
    finished = (tmp_path / "t.h5").read_bytes()
    assert (
        cli.main([*argv, "--mask-log", str(tmp_path / "t.h5"), "--out", str(tmp_path / "t.h5")])
        == 2
    )
    assert (tmp_path / "t.h5").read_bytes() == finished
    from evotickets.commands.group import open_log

    for log in ("/dev/null", tmp_path / "notes.txt"):  # not a file of another kind
        with open_log(log) as f:
            f.write("a log\n")


def test_a_gd_chain_is_kept_when_only_what_the_es_fitness_reads_changes(
    tmp_path, tiny_config, capsys
):
    """A GD chain's digest leaves out the task keys only the ES fitness reads
    (names.ES_FITNESS_TASK_KEYS): after another ES batch and population chunk its finished
    rounds are kept (they were trained again, to the same numbers). Rounds written while its
    digest named them (the whole settings form's digest, as versions up to 6044c60 wrote)
    stay valid: the verbs keep them, the next round reads them, the reports accept them."""
    from evotickets import paths
    from evotickets.config import chain_spec
    from evotickets.results import FinishedRounds
    from evotickets.settings import digest

    tiny_config["gd"] = {"gd_adam": {"epochs": 1}}
    cfg, results, init, _ = _magnitude_chain_of_one_seed(
        tmp_path, tiny_config, ["magnitude"], generations=2
    )
    chain = ("digits", "gd_adam", "magnitude", 0)

    def f(name, t):
        return tmp_path / paths.round_file(name, "tiny", *chain, t)

    def run(cfg, t):
        f("mask.h5", t).parent.mkdir(parents=True, exist_ok=True)
        argv = ["round", "--settings", json.dumps(chain_settings(cfg, *chain)),
                "--round", str(t), "--init", str(init), "--mask-out", str(f("mask.h5", t)),
                "--mask-log", str(f("mask.log", t)), "--out", str(f("trained.h5", t))]  # fmt: skip
        prev = ["--prev-trained", str(f("trained.h5", t - 1))] if t else []
        assert cli.main(argv + prev) == 0

    def created():
        return [str(h5py.File(f(n, t))["/"].attrs["created"])
                for t in (0, 1) for n in ("mask.h5", "trained.h5")]  # fmt: skip

    run(cfg, 0), run(cfg, 1)
    first = created()
    tiny_config["tasks"]["digits"].update(batch_size=32, population_chunk=8)
    other = validate_config(tiny_config)
    assert chain_settings(other, *chain) != chain_settings(cfg, *chain)  # the rule reruns
    snes = ("digits", "snes", "magnitude", 0)
    assert chain_spec(other, *snes).digest() != chain_spec(cfg, *snes).digest()
    capsys.readouterr()
    run(other, 0), run(other, 1)
    assert created() == first
    assert capsys.readouterr().out.count("finished by an earlier run") == 2
    assert set(FinishedRounds(other, results).of_chain(chain)) == {0, 1}

    # round 0 as earlier versions wrote it, round 1 not yet trained
    spec = chain_spec(other, *chain)
    before = digest(spec.to_dict())
    assert before != spec.digest()
    for name in ("mask.h5", "trained.h5"):
        with h5py.File(f(name, 0), "r+") as h5:
            h5.attrs["config_digest"] = before
    for name in ("mask.h5", "trained.h5"):
        f(name, 1).unlink()
    run(other, 0), run(other, 1)
    assert created()[:2] == first[:2]  # round 0 kept, and round 1 trained from it
    assert read_artifact(f("trained.h5", 1), "trained")[1]["config_digest"] == spec.digest()
    assert set(FinishedRounds(other, results).of_chain(chain)) == {0, 1}
    # what the earlier digest does not accept: round 0 of the earlier batch
    with pytest.raises(Exception, match="other settings than this config gives its chain"):
        FinishedRounds(cfg, results).of_chain(chain)


def test_a_written_artifact_drops_snakemakes_backup_of_it(tmp_path, monkeypatch):
    """Snakemake copies its backup of each update() output back when a job fails: writing
    an artifact drops the backup of it (it stays, new, whatever fails later), and nothing
    the job did not write is touched; an absolute output path too (Snakemake's layout)."""
    from evotickets.artifacts import write_artifact
    from evotickets.durable import SNAKEMAKE_BACKUPS

    monkeypatch.chdir(tmp_path)
    attrs = {"round": 0, "method": "random", "kept_prunable": 1, "remaining_fraction": 1.0}
    old, new = Path("r/s0/mask.h5"), Path("r/s1/mask.h5")
    absolute = tmp_path / "abs" / "mask.h5"
    backups = {p: SNAKEMAKE_BACKUPS / p.relative_to(p.anchor) for p in (old, new, absolute)}
    for backup in backups.values():
        backup.parent.mkdir(parents=True, exist_ok=True)
        backup.write_text("an earlier round")
    write_artifact(new, "mask", {"mask/k": np.zeros(2, bool)}, attrs, config_digest="a", seed=0)
    write_artifact(absolute, "mask", {"mask/k": np.ones(2, bool)}, attrs, config_digest="a",
                   seed=0)  # fmt: skip
    assert backups[old].exists()  # not written by this job: its backup stays
    assert not backups[new].exists()  # written by it: stays new
    assert not backups[absolute].exists()


@pytest.mark.parametrize("method", ["movement", "magnitude_increase", "init_magnitude"])
def test_a_heuristic_mask_scores_the_trained_round_against_its_theta0(tmp_path, tiny_config,
                                                                      method):  # fmt: skip
    """Fig. 9's heuristics read θ0 beside the previous round's θ_G: the `mask` verb's round-1
    mask is the count's best scores of (θ_G, θ0) by the method's score (pruning.scores,
    whose formulas test_pruning checks), θ0 from init.h5. No test ran them through the verb,
    where θ0 reaches the score."""
    from evotickets.artifacts import artifact_vector, read_artifact
    from evotickets.pruning import prune_to_count, remaining_count, scores
    from evotickets.rounds import load_init
    from evotickets.settings import ChainSettings

    tiny_config["es"] = {"num_generations": 4, "log_every": 4}
    tiny_config["methods"] = ["random", "magnitude", method]
    cfg = validate_config(tiny_config)
    init = _write_init(cfg, tmp_path / "init.h5")
    settings = json.dumps(chain_settings(cfg, "digits", "snes", method, 0))
    common = ["--settings", settings, "--init", str(init)]
    t0, m0, m1 = (str(tmp_path / n) for n in ("t0.h5", "m0.h5", "m1.h5"))
    assert cli.main(["round", *common, "--round", "0", "--mask-out", m0,
                     "--mask-log", str(tmp_path / "m.log"), "--out", t0]) == 0  # fmt: skip
    assert cli.main(["mask", *common, "--round", "1", "--prev-trained", t0, "--out", m1]) == 0

    spec = ChainSettings.from_dict(chain_settings(cfg, "digits", "snes", method, 0))
    theta0, table, prunable, _ = load_init(str(init), spec)
    trained = read_artifact(t0, "trained")[0]
    theta_g = artifact_vector(trained, "params", table, t0, "trained")
    keep = remaining_count(int(prunable.sum()), cfg["prune_fraction"], 1)
    score = scores(method, theta_g, theta0=theta0)
    want = prune_to_count(score, np.ones_like(prunable), prunable, keep).mask
    got = artifact_vector(read_artifact(m1, "mask")[0], "mask", table, m1, "mask").astype(bool)
    np.testing.assert_array_equal(got, want)
    magnitude = prune_to_count(np.abs(theta_g), np.ones_like(prunable), prunable, keep).mask
    assert not np.array_equal(got, magnitude)  # θ0 changed the ranking


def test_a_mask_that_empties_a_layer_is_warned_of_in_the_log(tmp_path, tiny_config, capsys):
    """A global random mask at a deep round keeps too few weights for every layer: the mask
    step's log names the emptied tensors (the network then ignores its input), and only
    those that the written mask really leaves empty."""
    from evotickets.analysis.collect import empty_tensors
    from evotickets.artifacts import MASK_GROUP, group
    from evotickets.pruning import remaining_count

    tiny_config["methods"] = ["random", "magnitude"]
    cfg = validate_config(tiny_config)
    init = _write_init(cfg, tmp_path / "init.h5")
    attrs = read_artifact(init, "init")[1]
    settings = chain_settings(cfg, "digits", "snes", "random", 0)
    p, n = cfg["prune_fraction"], int(attrs["num_prunable"])
    deep = next(t for t in range(1, 200) if remaining_count(n, p, t) <= 2)

    def mask_at(t):
        out = tmp_path / f"mask{t}.h5"
        capsys.readouterr()
        assert cli.main(["mask", "--settings", json.dumps(settings), "--init", str(init),
                         "--round", str(t), "--out", str(out)]) == 0  # fmt: skip
        logged = capsys.readouterr()
        masks = {
            k: v.astype(bool) for k, v in group(read_artifact(out, "mask")[0], MASK_GROUP).items()
        }
        return logged.out + logged.err, empty_tensors(masks)

    text, empty = mask_at(1)  # 80 % kept: every layer keeps weights
    assert empty == [] and "keeps no weight" not in text
    text, empty = mask_at(deep)
    assert empty, "a mask of at most 2 weights over this network's layers empties one"
    (line,) = [ln for ln in text.splitlines() if "keeps no weight" in ln]
    assert line.split("keeps no weight of ")[1].split(":")[0] == ", ".join(empty)
