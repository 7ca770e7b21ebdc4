"""CLI verbs that read finished artifacts or configs: ``table``, ``check-config``."""

from __future__ import annotations

import json

from ..artifacts import ArtifactError
from ..config import load_config
from ..durable import atomic_path


def cmd_table(args) -> None:
    from ..report import accuracy_table

    text = accuracy_table(args.results)
    if args.out:
        with atomic_path(args.out) as tmp:
            tmp.write_text(text)
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

    register_collect(sub)
    register_figure(sub)
    register_claims(sub)


def cmd_collect(args) -> None:
    """Gather every artifact of an experiment into results/<exp>/summary.nc."""
    from ..analysis.collect import collect, save

    cfg = load_config(args.configfile) if args.configfile else json.loads(args.config_json)
    ds = collect(cfg, args.results)
    save(ds, args.out)
    print(f"wrote {args.out}: {dict(ds.sizes)}; {len(ds.data_vars)} variables")


def register_collect(sub) -> None:
    sp = sub.add_parser("collect", help="gather all artifacts into one xarray dataset (netCDF)")
    sp.add_argument("results", help="results/<experiment> folder")
    group = sp.add_mutually_exclusive_group(required=True)
    group.add_argument("--configfile")
    group.add_argument("--config-json", help="the resolved config as JSON (from the rule)")
    sp.add_argument("--out", required=True)
    sp.set_defaults(func=cmd_collect)


def cmd_figure(args) -> None:
    """Render one paper figure from summary.nc only."""
    import xarray as xr

    from ..plots.figures import render

    with xr.open_dataset(args.summary, engine="h5netcdf") as ds:
        fig = render(args.name, ds.load(), args.out)
    print(f"wrote {args.out} ({len(fig.axes)} panels)")


def register_figure(sub) -> None:
    sp = sub.add_parser("figure", help="render one figure from summary.nc")
    sp.add_argument(
        "name",
        help="fig1 … fig11, or what it shows (e.g. lmc_and_sharpness for fig6), or a figure beyond the paper (pruning_families)",
    )
    sp.add_argument("--summary", required=True)
    sp.add_argument("--out", required=True)
    sp.set_defaults(func=cmd_figure)


def cmd_claims(args) -> None:
    """The paper's claims as paired effects with 95 % intervals, from summary.nc only:
    claims.md (printed), claims.html (for the report) and claims.nc beside it."""
    import json
    from pathlib import Path

    import xarray as xr

    from ..analysis import claims
    from ..durable import atomic_path

    results = Path(args.results)
    summary = Path(args.summary or results / "summary.nc")
    if not summary.exists():
        raise ArtifactError(
            f"{summary} does not exist: make it first with "
            f"`snakemake --cores 2 {summary}` (rule collect)"
        )
    with xr.open_dataset(summary, engine="h5netcdf") as ds:
        ds = ds.load()
    rows = claims.claim_rows(ds)
    thresholds = claims.dense_threshold(ds)
    text = claims.to_markdown(
        rows,
        thresholds,
        title=str(ds.attrs.get("experiment", "")),
        sigma=claims.sigma_context(ds),
        machines=json.loads(ds.attrs.get("trained_on", "{}")),
    )
    out = Path(args.out_dir or results)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "claims.md") as tmp:
        tmp.write_text(text)
    with atomic_path(out / "claims.html") as tmp:
        tmp.write_text(claims.to_html(text))
    with atomic_path(out / "claims.nc") as tmp:
        claims.to_dataset(rows, thresholds).to_netcdf(tmp, engine="h5netcdf")
    print(text.split("## Every level")[0] if args.brief else text)
    print(f"wrote {out / 'claims.md'}, claims.html and claims.nc ({len(rows)} effects)")


def register_claims(sub) -> None:
    sp = sub.add_parser("claims", help="test the paper's claims on summary.nc (paired, 95 % CI)")
    sp.add_argument("results", help="results/<experiment> folder")
    sp.add_argument("--summary", help="default: <results>/summary.nc")
    sp.add_argument("--out-dir", help="default: the results folder")
    sp.add_argument("--brief", action="store_true", help="print only the summary table")
    sp.set_defaults(func=cmd_claims)
