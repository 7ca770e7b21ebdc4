"""The parser a researcher reads: `evotickets --help` and each verb's."""

from evotickets import cli


def test_every_verb_says_what_it_does_in_its_own_help():
    """`evotickets table --help` printed only its usage and flags (the verbs had a one-line
    help in the verb list, and no description of their own)."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "verb")
    assert len(sub.choices) >= 15
    for verb, verb_parser in sub.choices.items():
        assert verb_parser.description, verb
        assert verb_parser.description.split()[-1] in verb_parser.format_help()
    assert "table, claims, figure, collect, check-config" in parser.description
    assert ":mod:" not in parser.format_help()  # the developers' docstring stays out
