"""Where Descent's data files live: `resources/` (lessons, icons, the desktop entry, format docs).

In a source checkout (editable install included) that is the top-level `resources/` folder beside
`engine/`. An installed wheel ships the same folder as the package `descent_resources`, found through
`importlib.resources`, so the files are found wherever the package is installed.
"""

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

_SOURCE_TREE = Path(__file__).resolve().parent.parent / "resources"


def resources_root() -> Traversable:
    """The root of Descent's data files: the source tree's `resources/`, else the installed package."""
    if _SOURCE_TREE.is_dir():
        return _SOURCE_TREE
    return files("descent_resources")


def resource(*parts: str) -> Traversable:
    """One data file or folder under the resources root, e.g. `resource("lessons")`."""
    node = resources_root()
    for part in parts:
        node = node.joinpath(part)
    return node
