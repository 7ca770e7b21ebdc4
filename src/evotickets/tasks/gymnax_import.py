"""Import gymnax without the plotting stack its environments load only to render frames.

``import gymnax`` imports every environment it registers, and five of them (catch, pong,
four rooms, meta maze, point robot) import ``matplotlib.pyplot``, and pong ``seaborn``, at
module level, although they use them only in their ``render`` methods, which no training
job calls. seaborn brings pandas and scipy.stats. On this project's 2-core machine that was
≈ 1.2 s of the ≈ 1.8 s a Pendulum job spent building its task, paid by every job of every
control-task chain (bench/README.md, "Job start"). gymnax 1.0.1 is its newest release, so
the deferral lives here: while gymnax is imported, those two modules are stand-ins that
import the real module on first use. Once gymnax is in, the stand-ins leave ``sys.modules``,
so any later ``import seaborn`` gets the real module; only gymnax's render-only globals keep
a stand-in, and a ``render`` call still works (it pays the import then).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types
from collections.abc import Iterator
from typing import Any

#: Modules gymnax's environments import at module level and use only in ``render``.
RENDER_ONLY_MODULES = ("matplotlib.pyplot", "seaborn")


class _ImportedOnFirstUse(types.ModuleType):
    """Stands in for module ``__name__`` until an attribute of it is read."""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):  # introspection (``__path__``, ``__file__``) must not import
            raise AttributeError(attr)
        if sys.modules.get(self.__name__) is self:  # read while gymnax is being imported
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


@contextlib.contextmanager
def deferred_imports(names: tuple[str, ...]) -> Iterator[None]:
    """Within the block, ``import name`` of each of ``names`` not yet imported binds a
    stand-in that imports the real module when first used. The stand-ins leave
    ``sys.modules`` when the block ends, whatever happened in it."""
    placed = [name for name in names if name not in sys.modules]
    for name in placed:
        sys.modules[name] = _ImportedOnFirstUse(name)
    try:
        yield
    finally:
        for name in placed:
            if isinstance(sys.modules.get(name), _ImportedOnFirstUse):
                del sys.modules[name]


def import_gymnax() -> types.ModuleType:
    """``import gymnax``, with :data:`RENDER_ONLY_MODULES` imported on first use only."""
    if "gymnax" in sys.modules:
        return sys.modules["gymnax"]
    with deferred_imports(RENDER_ONLY_MODULES):
        return importlib.import_module("gymnax")
