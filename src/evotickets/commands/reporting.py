"""CLI verbs that read finished artifacts or configs: ``table``, ``check-config``."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from .. import paths
from ..artifacts import (
    H5_READ_ERRORS,
    ArtifactError,
    ArtifactUnavailable,
    check_output,
    ensure_writable,
    raise_if_unavailable,
    require_results_folder,
)
from ..config import (
    ConfigError,
    chains,
    emptied_layer_notes,
    idle_analyses,
    ignored_settings,
    load_config,
    memory_notes,
    network_settings,
    running_analyses,
    validate_config,
)
from ..durable import atomic_path, atomic_paths
from ..names import (
    CHAIN_DIMS,
    FIGURE_NAMES,
    FIGURES_BEYOND,
    FIGURES_BY_NUMBER,
    figure_number,
)

if TYPE_CHECKING:
    import xarray


def _config(args) -> dict | None:
    """The config of ``--configfile`` (validated) or ``--config-json`` (what a rule passes,
    already validated), or None where neither is given. ``--configfile`` takes a config and
    its overlays, so a folder written after them (``--configfile a.yaml results/x``, a form
    the verbs took when the flag took one file) is the results folder."""
    if args.results is None:
        if args.configfile and len(args.configfile) > 1 and Path(args.configfile[-1]).is_dir():
            args.results = args.configfile.pop()
        else:
            raise ConfigError(
                f"give the results folder: `evotickets {args.verb} results/<experiment> "
                "--configfile <the run's config> [overlays]`"
            )
    if args.configfile:
        return load_config(args.configfile)
    if not args.config_json:
        return None
    try:
        cfg = json.loads(args.config_json)
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"--config-json is not JSON ({err}); it is what the workflow's rule passes: by "
            "hand, give --configfile <the run's config> instead"
        ) from err
    try:  # the workflow's config is valid already (validating it again changes nothing)
        return validate_config(cfg)
    except ConfigError as err:
        raise ConfigError(
            f"--config-json: {err} (by hand, give --configfile <the run's config> instead)"
        ) from err


def folder_name(path: str | os.PathLike) -> str:
    """The name of the folder ``path`` names (``.`` and a trailing slash included), not of
    where a link leads: a run's results/<experiment> may be a link to scratch space."""
    return Path(os.path.abspath(path)).name


def _results_then_out(results: str, cfg: dict | None, out: str | None, what: str) -> None:
    """The results folder must exist (a mistyped one reads as a run without artifacts), and
    then ``out`` be writable and hold no artifact (:func:`artifacts.check_output`: a
    ``--out`` naming a trained.h5 would replace it with ``what``). In this order: ``--out
    results/<typo>/…`` made the folder. With a config, the folder must be its experiment's:
    another run's folder would be read under this config's name (a summary.nc labelled with
    the wrong experiment)."""
    require_results_folder(results, (cfg or {}).get("experiment"))
    if cfg and folder_name(results) != cfg["experiment"]:
        raise ConfigError(
            f"{results} is not the folder of this config's experiment {cfg['experiment']!r} "
            f"(its folder is results/{cfg['experiment']}): pass that run's config, or its "
            "folder; a copied or renamed run's folder is named by its config's `experiment`"
        )
    if out:
        check_output(out, what, [])


def cmd_table(args) -> None:
    from ..report import accuracy_table

    cfg = _config(args)
    _results_then_out(args.results, cfg, args.out, "table")
    text = accuracy_table(args.results, cfg)
    if args.out:
        with atomic_path(args.out) as tmp:
            tmp.write_text(text, encoding="utf-8")
    print(text)


def cmd_check_config(args) -> None:
    from .. import pruning

    named = " + ".join(args.configfile)  # a config and its overlays, merged as Snakemake does
    try:
        cfg = load_config(args.configfile)
    except ConfigError as error:  # validation's own messages name a key, not the files
        if any(str(f) in str(error) for f in args.configfile):
            raise
        raise ConfigError(f"{named}: {error}") from None
    print(
        f"{named}: valid ({len(cfg['tasks'])} tasks, "
        f"{len(cfg['strategies'])} ES strategies, {len(cfg['gd'])} gradient-descent trainers, "
        f"{len(cfg['methods'])} methods, {len(cfg['seeds'])} seeds, {cfg['rounds']} rounds: "
        f"{len(chains(cfg))} chains)"
    )
    from ..tasks import weight_counts

    last, p = cfg["rounds"] - 1, cfg["prune_fraction"]
    kept = pruning.nominal_remaining(p, last)
    counts = []
    for task in cfg["tasks"]:  # the masks keep whole weights: the count each task's keeps
        prunable = weight_counts(network_settings(cfg, task))[0]
        counts.append(f"{task} {pruning.remaining_count(prunable, p, last):,} of {prunable:,}")
    print(
        f"round {last}, the last, keeps {kept:.2%} of each task's prunable weights (in whole "
        f"weights: {'; '.join(counts)})"
    )
    print(f"analyses: {running_analyses(cfg)}")
    for name, why in idle_analyses(cfg).items():
        print(f"note: analysis {name} computes nothing here: {why}")
    for note in ignored_settings(cfg) + memory_notes(cfg) + emptied_layer_notes(cfg):
        print(f"note: {note}")


def register(sub) -> None:
    sp = sub.add_parser("table", help="print test metric against sparsity per method")
    sp.add_argument("results", nargs="?", help="results/<experiment> folder")
    group = sp.add_mutually_exclusive_group()
    group.add_argument(
        "--configfile",
        nargs="+",
        help="count only the chains and transfers this config (and its overlays, as given to "
        "snakemake) asks for, each checked to come from its settings (without: every "
        "trained.h5 in the folder); the folder must be results/<its experiment>",
    )
    group.add_argument("--config-json", help="the resolved config as JSON (from the rule)")
    sp.add_argument(
        "--out", help="also write the table to this file (written whole, or not at all)"
    )
    sp.set_defaults(func=cmd_table)

    sp = sub.add_parser(
        "check-config",
        help="validate a config file: its keys and values, and that its last round keeps "
        "some of every task's prunable weights",
    )
    sp.add_argument(
        "configfile",
        nargs="+",
        help="the config file, and any overlays after it, merged as `snakemake --configfile "
        "a.yaml b.yaml` merges them",
    )
    sp.set_defaults(func=cmd_check_config)

    register_collect(sub)
    register_figure(sub)
    register_claims(sub)


def cmd_collect(args) -> None:
    """Gather every artifact of an experiment into results/<exp>/summary.nc."""
    from ..analysis.collect import collect, save

    cfg = _config(args)
    _results_then_out(
        args.results, cfg, args.out, "summary"
    )  # before the reading, which a bad --out wasted
    ds = collect(cfg, args.results)
    # an all-NaN summary must not replace one; a finished round's kept fraction is finite
    # even where its metric is NaN (a control task's rollouts can return NaN)
    if not bool(ds.kept_fraction.notnull().any()):
        raise ArtifactError(
            f"no finished round that the config asks for under {args.results}: nothing to "
            f"collect, and {args.out} is left as it is; run the workflow first, or pass the "
            "run's config and results folder"
        )
    save(ds, args.out)
    print(f"wrote {args.out}: {dict(ds.sizes)}; {len(ds.data_vars)} variables")


def register_collect(sub) -> None:
    sp = sub.add_parser("collect", help="gather all artifacts into one xarray dataset (netCDF)")
    sp.add_argument("results", nargs="?", help="results/<experiment> folder")
    group = sp.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--configfile",
        nargs="+",
        help="the run's config (and its overlays, as given to snakemake); the folder must be "
        "its experiment's",
    )
    group.add_argument("--config-json", help="the resolved config as JSON (from the rule)")
    sp.add_argument("--out", required=True)
    sp.set_defaults(func=cmd_collect)


def _remake_summary(path) -> str:
    """How to make the summary at ``path``: the run's config names the experiment (without it
    Snakemake plans the default one's), and only results/<experiment>/summary.nc is a target
    a rule makes (elsewhere Snakemake says "No rule to produce" it)."""
    if PurePath(path).name == "summary.nc" and paths.experiment_of(path) == str(
        PurePath(path).parent
    ):
        target, then = path, ""
    else:
        target, then = f"{paths.RESULTS}/<experiment>/summary.nc", " and pass that"
    return (
        f"make it with `snakemake --cores 2 --configfile <the run's config> -- {target}` "
        f"(rule collect){then}"
    )


#: What every summary.nc that collect wrote holds, whatever its experiment ran: the figures
#: and claims read them without asking (an edited one failed on a bare AttributeError).
SUMMARY_SKELETON = ("test_metric", "remaining_fraction", *CHAIN_DIMS)


def open_summary(path) -> xarray.Dataset:
    """``summary.nc`` at ``path``, loaded, or an :class:`ArtifactError` that says what is
    wrong with it (missing, unreadable or truncated, not a summary) and how to remake it."""
    import xarray as xr

    remake = _remake_summary(path)
    if Path(path).is_dir():
        raise ArtifactError(
            f"{path} is a folder: pass its summary.nc ({Path(path) / 'summary.nc'})"
        )
    if not Path(path).is_file():
        raise ArtifactError(f"{path} does not exist: {remake}")
    if Path(path).suffix != ".nc":  # a config or a table named by mistake: never "delete it"
        raise ArtifactError(f"{path} is not a summary.nc: pass results/<experiment>/summary.nc")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            ds = ds.load()
    except H5_READ_ERRORS as err:  # KeyError, RuntimeError: damage inside the HDF5 file
        raise_if_unavailable(path, err)  # not damage: never "delete it"
        raise ArtifactError(
            f"{path} cannot be read as netCDF ({err}): it is truncated, damaged or not a summary; "
            f"delete it and {remake}"
        ) from err
    if "test_metric" not in ds:
        beside = Path(path).with_name("summary.nc")  # what to pass, and to make: not this file
        first = f"delete {path} and " if Path(path).name == "summary.nc" else ""
        raise ArtifactError(
            f"{path} is not a summary.nc (it has no test_metric; claims.nc is the claims' "
            f"output, not their input): pass results/<experiment>/summary.nc, or {first}"
            f"{_remake_summary(beside)}"
        )
    lacking = [n for n in SUMMARY_SKELETON if n not in ds.variables]
    if lacking or ds.test_metric.dims != CHAIN_DIMS:
        what = f"no {', '.join(lacking)}" if lacking else f"test_metric on {ds.test_metric.dims}"
        raise ArtifactError(
            f"{path} is not a whole summary.nc ({what}; collect writes test_metric on "
            f"{CHAIN_DIMS} and remaining_fraction on iteration): it was edited, damaged or "
            f"made by something else; delete it and {remake}"
        )
    for attr in ("trained_on", "trained_on_by_seed"):
        try:  # claims.md names the machines from them: a hand-edited one failed on a bare
            json.loads(ds.attrs.get(attr, "{}"))  # JSON error
        except (TypeError, json.JSONDecodeError) as err:
            raise ArtifactError(
                f"{path}'s attribute {attr} is not the JSON collect writes ({err}): it was "
                f"edited or damaged; delete it and {remake}"
            ) from err
    return ds


def _refuse_another_figures_file(name: str, out: Path) -> None:
    """An existing file named after another figure (``figure fig1 --out figures/fig2.png``)
    holds that figure: drawing this one over it would lose it without a word."""
    stem = out.stem
    if not out.is_file() or stem not in FIGURE_NAMES and stem not in FIGURES_BY_NUMBER.values():
        return
    if figure_number(stem) != figure_number(name):
        raise ArtifactError(
            f"cannot draw {name} to {out}: that file is {stem}'s, which drawing would replace; "
            f"name this figure's own file (--out, e.g. {out.with_stem(figure_number(name))})"
        )


def cmd_figure(args) -> None:
    """Render one paper figure from summary.nc only."""
    from ..plots.figures import render

    _refuse_another_figures_file(args.name, Path(args.out))
    check_output(args.out, "figure", [])
    fig = render(args.name, open_summary(args.summary), args.out)
    lacks = getattr(fig, "evotickets_placeholder", None)
    if lacks:  # not "1 panels": a log of 13 drawn figures hid that 12 were placeholders
        print(f"wrote {args.out}: not in this experiment ({lacks})")
    else:
        print(f"wrote {args.out} ({len(fig.axes)} panels)")


def register_figure(sub) -> None:
    sp = sub.add_parser("figure", help="render one figure from summary.nc")
    sp.add_argument(
        "name",
        help="fig1 … fig11, or what it shows (e.g. lmc_and_sharpness for fig6), or a figure "
        f"beyond the paper ({', '.join(FIGURES_BEYOND)})",
    )
    sp.add_argument("--summary", required=True, help="results/<experiment>/summary.nc of a run")
    sp.add_argument(
        "--out",
        required=True,
        help="the image file to write; its suffix picks the format (png, pdf, svg)",
    )
    sp.set_defaults(func=cmd_figure)


def cmd_claims(args) -> None:
    """The paper's claims as paired effects with 95 % intervals, from summary.nc only:
    claims.md (printed), claims.html (for the report) and claims.nc beside it."""
    from ..analysis import claims
    from ..analysis.collect import (
        emptied_layer_rounds,
        nonfinite_curvature_rounds,
        nonfinite_metric_rounds,
        write_netcdf,
    )

    results = Path(args.results)
    if not (args.summary and args.out_dir):  # it is read or written: a config named by mistake
        require_results_folder(results)
    summary = Path(args.summary or paths.experiment_file("summary.nc", root=results))
    ds = open_summary(summary)
    title, default_out = _experiment_of(ds), results
    # another run's summary: its claims would land in this folder, beside this run's own
    if (
        args.summary
        and not args.out_dir
        and not _inside(Path(args.summary), results)
        and title != folder_name(results)
    ):
        raise ArtifactError(
            f"--summary {args.summary} is of experiment {title!r}, not of {results}: its "
            f"claims go in its own folder (`evotickets claims results/{title}`), or name "
            "where with --out-dir"
        )
    if args.seeds is not None:
        ds = seed_subset(ds, args.seeds)
        title += f" (seeds {', '.join(map(str, args.seeds))} only)"
        # never over the whole run's claims, which the workflow owns
        default_out = results / f"claims-seeds-{'-'.join(map(str, args.seeds))}"
    out = Path(args.out_dir or default_out)
    if args.seeds is not None and (out / "summary.nc").is_file():
        # a run's results folder: its claims are the whole run's, which the workflow owns
        raise ArtifactError(
            f"--out-dir {out} is a run's results folder (it holds summary.nc): the claims of "
            f"seeds {', '.join(map(str, args.seeds))} only would replace the run's own; "
            f"leave --out-dir out (they go to {default_out}) or name another folder"
        )
    _refuse_another_runs_folder(out, _experiment_of(ds))
    rows = claims.claim_rows(ds)
    thresholds = claims.dense_threshold(ds)
    text = claims.to_markdown(
        rows,
        thresholds,
        title=title,
        sigma=claims.sigma_context(ds),
        machines=json.loads(ds.attrs.get("trained_on", "{}")),
        nonfinite=nonfinite_metric_rounds(ds),
        nonfinite_curvature=nonfinite_curvature_rounds(ds),
        emptied=emptied_layer_rounds(ds),
    )
    html, table = claims.to_html(text), claims.to_dataset(rows, thresholds)
    # which run: a claims.nc copied out of its folder still names it
    table.attrs.update(experiment=title, source=str(summary))
    if "trained_on" in ds.attrs:
        table.attrs["trained_on"] = ds.attrs["trained_on"]
    # all three written and fsynced before any replaces its old file: an error while writing
    # or syncing one (a full disk) leaves the old set whole, not a new claims.md beside an
    # old claims.nc
    written = [Path(paths.experiment_file(f, root=out)) for f in paths.CLAIMS_FILES]
    ensure_writable(written[0])
    with atomic_paths(*written) as tmps:
        md, page, nc = tmps
        md.write_text(text, encoding="utf-8")
        page.write_text(html, encoding="utf-8")
        write_netcdf(table, nc, kind="claims")
    print(text.split(claims.EVERY_LEVEL_HEADING)[0] if args.brief else text)
    print(f"wrote {written[0]}, {written[1].name} and {written[2].name} ({len(rows)} effects)")


def _experiment_of(ds: xarray.Dataset) -> str:
    """The experiment a summary.nc was collected for."""
    return str(ds.attrs.get("experiment", ""))


def _refuse_another_runs_folder(out: Path, experiment: str) -> None:
    """``--out-dir`` naming another run's results folder (its summary.nc says so) would
    replace that run's claims with these, which its workflow then takes as its own."""
    theirs = out / "summary.nc"
    if not theirs.is_file() or folder_name(out) == experiment:
        return
    try:
        other = _experiment_of(open_summary(theirs))
    except ArtifactUnavailable:  # it may say so once readable: not written over blind
        raise
    except ArtifactError:
        return  # not a summary that says whose folder this is
    if other != experiment:
        raise ArtifactError(
            f"--out-dir {out} is the results folder of experiment {other!r} (its summary.nc "
            f"says so), and these claims are of {experiment!r}: writing would replace its claims; name "
            "another folder (--out-dir)"
        )


def _inside(path: Path, folder: Path) -> bool:
    return Path(os.path.abspath(path)).parent == Path(os.path.abspath(folder))


def seed_subset(ds: xarray.Dataset, seeds: list[int]) -> xarray.Dataset:
    """``ds`` with only ``seeds`` on its seed axis (a replication on seeds added later, or
    held out), or a ValueError naming the seeds the summary has."""
    have = [int(s) for s in ds.seed.values]
    missing = [s for s in seeds if s not in have]
    if missing or not seeds or len(set(seeds)) != len(seeds):
        why = f", not {missing}" if missing else "; a seed is listed twice" if seeds else ""
        raise ValueError(
            f"--seeds {','.join(map(str, seeds))}: summary.nc has seeds {have}{why}: list "
            "each once, from those"
        )
    from collections import Counter

    from ..analysis.collect import TRAINED_ON_BY_SEED

    subset = ds.sel(seed=seeds)
    subset.attrs = dict(ds.attrs)  # sel shares the attrs dict: the whole run's stays whole
    by_seed = json.loads(ds.attrs.get(TRAINED_ON_BY_SEED, "null"))
    if by_seed is None and "trained_on" in ds.attrs:
        print(
            "note: this summary.nc counts the machines of the whole run only (collected "
            "before per-seed counts), so claims.md's Machines section counts every seed's rounds"
        )
    if by_seed is not None:  # the subset's own rounds per machine, not the whole run's
        kept = {str(s): by_seed.get(str(s), {}) for s in seeds}
        counts = sum(map(Counter, kept.values()), Counter())
        subset.attrs.update(
            trained_on=json.dumps(dict(sorted(counts.items()))),
            **{TRAINED_ON_BY_SEED: json.dumps(kept)},
        )
    return subset


def _seed_list(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give seeds as integers, e.g. 4,5,6,7"
        ) from None


def register_claims(sub) -> None:
    # %% : argparse formats help texts with %, and a lone one broke `evotickets --help`
    sp = sub.add_parser("claims", help="test the paper's claims on summary.nc (paired, 95 %% CI)")
    sp.add_argument("results", help="results/<experiment> folder")
    sp.add_argument(
        "--summary",
        help="default: <results>/summary.nc; another experiment's needs --out-dir or its "
        "own results folder",
    )
    sp.add_argument(
        "--out-dir", help="default: the results folder (never another run's results folder)"
    )
    sp.add_argument(
        "--brief",
        action="store_true",
        help="print the head of claims.md only: what the effects mean, the summary table and "
        "the claims not tested, not the table of every level (the files are written whole)",
    )
    sp.add_argument(
        "--seeds",
        type=_seed_list,
        help="test on these seeds only, e.g. 4,5,6,7 (a replication); writes into "
        "<results>/claims-seeds-4-5-6-7/ unless --out-dir is given",
    )
    sp.set_defaults(func=cmd_claims)
