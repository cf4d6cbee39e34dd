"""The public surface is explicit: netlab.__all__ is exactly what the package exports."""

from __future__ import annotations

import importlib
import pkgutil

import netlab


def test_all_matches_exports() -> None:
    exported = {name for name in vars(netlab) if not name.startswith("_")}
    modules = {name for name, value in vars(netlab).items() if type(value).__name__ == "module"}
    assert set(netlab.__all__) == exported - modules - {"annotations"}


def test_every_module_declares_all() -> None:
    for info in pkgutil.walk_packages(netlab.__path__, "netlab."):
        if info.name == "netlab.__main__":
            continue
        module = importlib.import_module(info.name)
        assert hasattr(module, "__all__"), f"{info.name} has no __all__"
        for name in module.__all__:
            assert hasattr(module, name), f"{info.name}.__all__ lists missing {name}"
