"""zfkeras.data's export table: every public name resolves, lazily."""

import importlib
import subprocess
import sys

import pytest

import zfkeras.data


def test_every_exported_name_resolves_to_its_module():
    for name in zfkeras.data.__all__:
        module = zfkeras.data._LAZY_EXPORTS.get(name, "zfkeras.data.fashion_mnist")
        assert getattr(zfkeras.data, name) is getattr(importlib.import_module(module), name)
    assert set(zfkeras.data.__all__) <= set(dir(zfkeras.data))
    # Transitional names are resolvable but not advertised.
    assert not set(zfkeras.data._MOVED) & set(zfkeras.data.__all__)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'images'"):
        zfkeras.data.images  # noqa: B018  (the old module is gone)


@pytest.mark.parametrize("old, new", [("dataset_options", "two_core_options"), ("crop_of_ten", "ten_crop_at")])
def test_renamed_names_still_resolve_with_a_deprecation_warning(old, new):
    with pytest.warns(DeprecationWarning, match=f"zfkeras.data.{old} is now .*{new}"):
        value = getattr(zfkeras.data, old)
    assert value.__name__ == new


def test_importing_the_package_does_not_import_tensorflow():
    code = "import sys, zfkeras.data; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
