"""Driver registry: built-ins, entry-point plugins, clear errors for unknown names."""

from __future__ import annotations

from typing import Any

import pytest

from netlab import drivers
from netlab.errors import NotFoundError


def test_builtins() -> None:
    assert set(drivers.BUILTIN_DRIVERS) == {"bridge", "overlay", "macvlan", "null", "host"}
    assert drivers.driver_info("overlay").scope == "global"
    assert not drivers.driver_info("null").uses_ipam
    assert drivers.ICC_OPTION in (drivers.driver_info("bridge").options or ())


def test_unknown_driver_names_the_valid_ones() -> None:
    with pytest.raises(NotFoundError, match="known drivers: bridge, host, macvlan, null, overlay"):
        drivers.driver_info("brdge")


def test_entry_point_plugins_are_known(monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeEntryPoint:
        name = "weave"

    def fake_entry_points(group: str) -> list[Any]:
        return [FakeEntryPoint()] if group == "netlab.drivers" else []

    monkeypatch.setattr(drivers, "entry_points", fake_entry_points)
    drivers._installed_drivers.cache_clear()
    try:
        info = drivers.driver_info("weave")
        assert info.options is None and info.scope == "local"
    finally:
        monkeypatch.undo()
        drivers._installed_drivers.cache_clear()
    with pytest.raises(NotFoundError):
        drivers.driver_info("weave")
