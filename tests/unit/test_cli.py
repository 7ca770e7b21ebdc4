"""The parser a researcher reads: `evotickets --help` and each verb's."""

import argparse

import pytest

from evotickets import cli


def test_every_verb_says_what_it_does_in_its_own_help():
    """`evotickets table --help` printed only its usage and flags (the verbs had a one-line
    help in the verb list, and no description of their own)."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "verb")
    assert len(sub.choices) >= 15
    for verb, verb_parser in sub.choices.items():
        assert verb_parser.description, verb
        verb_help = next(a.help for a in sub._choices_actions if a.dest == verb)
        verb_help = verb_help.replace("%%", "%")  # the help string's escape for argparse
        assert verb_parser.description == verb_help[0].upper() + verb_help[1:] + "."
    assert "table, claims, figure, collect, check-config" in parser.description
    assert ":mod:" not in parser.format_help()  # the developers' docstring stays out


def test_a_results_folder_after_the_config_files_is_the_results_folder(tmp_path):
    """`--configfile` takes a config and its overlays, and swallowed the folder of `evotickets
    table --configfile a.yaml results/x` (a form that worked while it took one file)."""
    from pathlib import Path

    import pytest

    from evotickets.commands.reporting import _config
    from evotickets.config import ConfigError

    config = str(Path(__file__).resolve().parents[2] / "config" / "config.yaml")
    for verb in ("table", "collect"):
        extra = ["--out", str(tmp_path / "s.nc")] if verb == "collect" else []
        args = cli.build_parser().parse_args([verb, "--configfile", config, str(tmp_path), *extra])
        assert args.results is None and args.configfile == [config, str(tmp_path)]
        assert _config(args)["experiment"] == "digits-default"
        assert (args.results, args.configfile) == (str(tmp_path), [config])
        alone = cli.build_parser().parse_args([verb, "--configfile", config, *extra])
        with pytest.raises(ConfigError, match=f"give the results folder: `evotickets {verb} res"):
            _config(alone)


def test_configs_and_logs_are_utf8_whatever_the_locale(tmp_path):
    """Configs, logs and reports hold θ, ≥, ±, ✓: read and written as UTF-8 explicitly. Under
    a non-UTF-8 locale (no coercion), check-config refused config/config.yaml as "not UTF-8
    text" and a log line with θ failed the job."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    env = {**os.environ, "LC_ALL": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"}
    code = (
        "import sys; from evotickets import cli; from evotickets.commands.group import open_log\n"
        f"assert cli.main(['check-config', {str(ROOT / 'config' / 'config.yaml')!r}]) == 0\n"
        f"with open_log({str(tmp_path / 'train.log')!r}) as log: "  # the code itself ASCII
        "log.write('\\u03b80 \\u2265 \\u00b1 \\u2713\\n')\n"
        "print(sys.getfilesystemencoding(), sys.flags.utf8_mode)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, encoding="utf-8", check=False, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("0")  # not in UTF-8 mode: the locale's encoding
    assert (tmp_path / "train.log").read_text(encoding="utf-8") == "θ0 ≥ ± ✓\n"


def test_a_verbs_help_prints_its_description_as_written(capsys):
    """The description copied from the verb's help string kept argparse's %% escape: `claims
    --help` printed "95 %% CI"."""
    import pytest

    with pytest.raises(SystemExit):
        cli.main(["claims", "--help"])
    out = capsys.readouterr().out
    assert "(paired, 95 % CI)." in out and "%%" not in out


def test_table_and_collect_merge_the_overlays_given_after_the_config(tmp_path):
    """table and collect read the overlays after the config, as check-config does."""
    from conftest import ROOT

    from evotickets.commands import reporting

    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("seeds: [0]\n")
    argv = ["table", str(tmp_path), "--configfile", str(ROOT / "config" / "config.yaml")]
    ns = cli.build_parser().parse_args([*argv, str(overlay)])
    assert reporting._config(ns)["seeds"] == [0]


@pytest.mark.parametrize("text", ["-1", "-2", "x", "1.5"])
def test_round_index_refuses_what_is_not_a_round(text):
    from evotickets.commands import common

    with pytest.raises(argparse.ArgumentTypeError, match="is not a round index"):
        common.round_index(text)
    assert common.round_index("0") == 0 and common.round_index("7") == 7


def test_recompute_is_asked_by_any_value_but_empty_or_0(monkeypatch):
    """EVOTICKETS_RECOMPUTE=0 is off, as an empty one is."""
    from evotickets.commands import common

    for value, asked in (("", False), ("0", False), ("1", True), ("yes", True)):
        monkeypatch.setenv(common.RECOMPUTE_ENV, value)
        assert common.recompute_asked() is asked
    monkeypatch.delenv(common.RECOMPUTE_ENV)
    assert common.recompute_asked() is False
