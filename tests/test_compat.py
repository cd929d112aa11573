"""The renamed-keyword mechanism (`zfkeras.utils.compat`): an old name runs
as the new one, warns naming the new name and the release that removes the
old one, and may not be given together with the new name."""

import inspect
import re
import warnings

import pytest

import zfkeras
from zfkeras.utils.compat import REMOVED_IN, renamed_arguments
from zfkeras.utils.errors import InputTypeError


@renamed_arguments(labels="targets", progress=("verbose", lambda progress: 1 if progress else 0))
def _explain(inputs, targets=None, verbose="auto"):
    """Returns what it was called with."""
    return inputs, targets, verbose


def test_the_old_name_runs_as_the_new_one_and_warns_with_the_removal_release():
    with pytest.warns(DeprecationWarning) as caught:
        assert _explain("x", labels=[3]) == ("x", [3], "auto")
    (warning,) = caught
    assert str(warning.message) == (
        f"_explain(): the argument 'labels' is deprecated and will be removed in zfkeras {REMOVED_IN}; "
        "use 'targets'"
    )
    assert warning.filename == __file__  # points at the caller, not at the decorator


def test_a_converted_old_value():
    with pytest.warns(DeprecationWarning, match="'progress' is deprecated"):
        assert _explain("x", progress=True) == ("x", None, 1)
    with pytest.warns(DeprecationWarning):
        assert _explain("x", progress=False) == ("x", None, 0)


def test_new_names_do_not_warn_and_the_signature_is_the_new_one():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _explain("x", targets=[1], verbose=0) == ("x", [1], 0)
    assert list(inspect.signature(_explain).parameters) == ["inputs", "targets", "verbose"]
    assert _explain.__doc__ == "Returns what it was called with."


def test_old_and_new_together_is_an_input_type_error():
    with pytest.raises(InputTypeError, match=r"got both 'labels' \(deprecated\) and 'targets'; pass only 'targets'"):
        _explain("x", labels=[1], targets=[2])
    assert issubclass(InputTypeError, TypeError)


def test_the_removal_release_comes_after_this_one():
    def version(text):
        return tuple(int(p) for p in re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", text).groups())

    assert version(REMOVED_IN) > version(zfkeras.__version__)
