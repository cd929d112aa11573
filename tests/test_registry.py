"""The method registry lists the built-in methods in one order, whichever
module registering them is imported first (the explorer's menus, the
report's table and the export read that order in different processes)."""

import subprocess
import sys

import pytest

from zfkeras.methods.registry import BUILTIN_MODULES, method_names

PROGRAM = ("import importlib, sys; importlib.import_module(sys.argv[1]); "
           "from zfkeras.methods.registry import method_names; print(','.join(method_names()))")


@pytest.mark.parametrize("first", BUILTIN_MODULES + ("zfkeras.methods.lrp", "zfkeras"))
def test_the_order_does_not_depend_on_what_was_imported_first(first):
    out = subprocess.run([sys.executable, "-c", PROGRAM, first], capture_output=True, text=True, check=True)
    assert out.stdout.strip().split(",") == list(method_names())


def test_the_backward_rules_come_first_and_every_built_in_module_registers_some():
    names = method_names()
    assert names[:3] == ("deconvnet", "guided_backprop", "gradient")
    assert names.index("occlusion") < names.index("integrated_gradients") < names.index("lrp_0")
