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


@pytest.mark.parametrize("old", ["dataset_options", "crop_of_ten", "images", "predict_ten_crop"])
def test_removed_names_are_attribute_errors(old):
    with pytest.raises(AttributeError, match=f"has no attribute '{old}'"):
        getattr(zfkeras.data, old)


def test_importing_the_package_does_not_import_tensorflow():
    code = "import sys, zfkeras.data; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
