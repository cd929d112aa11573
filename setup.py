"""Packaging: the top-level folders train/, analysis/, export/ and explore/
install as zfkeras.train, zfkeras.analysis, zfkeras.export and
zfkeras.explore, so that site-packages
holds one package, ``zfkeras`` (metadata and dependencies are in setup.cfg).
"""

from setuptools import find_packages, setup

SUBPACKAGES = ("train", "analysis", "export", "explore")

package_dir = {"zfkeras": "zfkeras"}
packages = find_packages(include=["zfkeras", "zfkeras.*"])
for folder in SUBPACKAGES:
    package_dir[f"zfkeras.{folder}"] = folder
    packages += [f"zfkeras.{name}" for name in find_packages(include=[folder, f"{folder}.*"])]

setup(package_dir=package_dir, packages=packages)
