"""Package attributes imported on first use (PEP 562), so that reading a session or printing
`descent --help` never pays for torch or scikit-learn it does not use.

A package's ``__init__`` maps each public name to the submodule defining it::

    __getattr__, __dir__ = lazy_exports(__name__, {"Session": "engine.session.record", ...})

and repeats the imports under ``if TYPE_CHECKING:`` for the type checker. The first access
to a name imports its submodule and caches the value in the package.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, where: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The package's ``__getattr__`` and ``__dir__`` for the names in `where` (name -> module)."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # later accesses skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
