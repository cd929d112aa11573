"""Every verb's --help shows each option's default once, and the default it
shows is the one the command uses when the option is left out."""

import importlib
import re

import pytest

from zfkeras import cli

SHOWN = re.compile(r"\(default: ([^()]*)\)")


def _option_entries(help_text):
    """{first option string: its whole help entry (wrapped lines joined)}."""
    entries, current = {}, None
    for line in help_text.split("options:", 1)[1].splitlines():
        if re.match(r"  -", line):
            current = line.split()[0].rstrip(",")
            entries[current] = line
        elif current and line.startswith("    "):
            entries[current] += " " + line.strip()
        else:
            current = None
    return entries


def _typed(value):
    """A default as it is typed on the command line (independent of zfkeras.cli.verbs)."""
    return " ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)


def _effective_defaults(verb, parser):
    """{dest: the value the command uses when the option is not given}."""
    defaults = {action.dest: action.default for action in parser._actions}
    if verb == "train":
        # flags default to None so that a --config file's values stand; the
        # configuration that results from no flags at all holds the real defaults
        from zfkeras.train.cli import config_from_args

        config = config_from_args(parser.parse_args([]))
        defaults.update({dest: getattr(config, dest) for dest in defaults if hasattr(config, dest)})
    return defaults


@pytest.mark.parametrize("verb", list(cli.VERBS))
def test_each_default_is_shown_once_and_is_the_real_one(verb, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    parser = importlib.import_module(cli.VERBS[verb][0]).build_parser()
    entries = _option_entries(parser.format_help())
    defaults = _effective_defaults(verb, parser)
    options = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    assert options and set(entries) >= {a.option_strings[0] for a in options}
    for action in options:
        entry = entries[action.option_strings[0]]
        shown = SHOWN.findall(entry)
        assert len(shown) <= 1 and entry.count("(default") <= 1, entry
        default = defaults[action.dest]
        if default is None:
            # nothing to show, or a default computed at run time, in words
            assert not shown or shown[0] not in ("None", ""), entry
        elif (default is False or _typed(default) == "") and not shown:
            pass  # an on/off flag, off unless given; an empty value (no folder, no name)
        else:
            assert shown == [_typed(default)], (entry, default)


def test_train_help_states_each_default_once():
    # the reported case: "(default: 256) (default: None)"
    help_text = importlib.import_module("zfkeras.train.cli").build_parser().format_help()
    assert "(default: None)" not in help_text
    entry = " ".join(_option_entries(help_text)["--image-size"].split())
    assert entry == "--image-size IMAGE_SIZE folder/tfds: shortest side and centre crop (paper: 256) (default: 256)"
