"""Only what pyproject.toml cannot say: the top-level resources/ folder (fixed by the design)
ships in the wheel as the package `descent_resources` (found by engine/resources.py through
importlib.resources). Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["engine*", "desktop*"]), "descent_resources"],
    package_dir={"descent_resources": "resources"},
    package_data={"*": ["*.json"], "descent_resources": ["**/*"]},
    include_package_data=False,
)
