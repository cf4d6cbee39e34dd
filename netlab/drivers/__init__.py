"""Drivers: what each network driver is, which options it knows, and its scope.

The registry is a literal dict of built-in drivers; third-party drivers
register through the ``netlab.drivers`` entry-point group. An unknown name
raises :class:`~netlab.errors.NotFoundError` listing the valid names.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points

from netlab.errors import NotFoundError

__all__ = ["COMMON_OPTIONS", "DriverInfo", "BUILTIN_DRIVERS", "driver_info", "known_drivers"]

MTU_OPTION = "com.docker.network.driver.mtu"
IFACE_PREFIX_OPTION = "com.docker.network.container_iface_prefix"
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
ICC_OPTION = "com.docker.network.bridge.enable_icc"
MASQUERADE_OPTION = "com.docker.network.bridge.enable_ip_masquerade"
VXLANID_OPTION = "com.docker.network.driver.overlay.vxlanid_list"

#: options every driver that makes interfaces accepts
COMMON_OPTIONS = frozenset({MTU_OPTION, IFACE_PREFIX_OPTION})


@dataclass(frozen=True, slots=True)
class DriverInfo:
    """What netlab knows about a driver before it runs.

    Attributes
    ----------
    name : str
    scope : str
        ``"local"`` (one host) or ``"global"`` (spans hosts).
    options : frozenset of str or None
        Option keys the driver understands; ``None`` accepts any (plugins).
    uses_ipam : bool
        False for ``null`` and ``host``, which get no addresses.
    single : bool
        Only one network of this driver may exist (``null``, ``host``).
    """

    name: str
    scope: str
    options: frozenset[str] | None
    uses_ipam: bool = True
    single: bool = False


BUILTIN_DRIVERS: dict[str, DriverInfo] = {
    "bridge": DriverInfo(
        "bridge",
        "local",
        COMMON_OPTIONS
        | {
            BRIDGE_NAME_OPTION,
            ICC_OPTION,
            MASQUERADE_OPTION,
            "com.docker.network.bridge.host_binding_ipv4",
            "com.docker.network.bridge.default_bridge",
        },
    ),
    "overlay": DriverInfo("overlay", "global", COMMON_OPTIONS | {VXLANID_OPTION, "encrypted"}),
    "macvlan": DriverInfo("macvlan", "local", COMMON_OPTIONS | {"parent", "macvlan_mode"}),
    "null": DriverInfo("null", "local", frozenset(), uses_ipam=False, single=True),
    "host": DriverInfo("host", "local", frozenset(), uses_ipam=False, single=True),
}


def known_drivers() -> dict[str, DriverInfo]:
    """Built-in drivers plus those registered under the ``netlab.drivers`` entry points."""
    return dict(_installed_drivers())


@cache
def _installed_drivers() -> tuple[tuple[str, DriverInfo], ...]:
    drivers = dict(BUILTIN_DRIVERS)
    for ep in entry_points(group="netlab.drivers"):
        drivers.setdefault(ep.name, DriverInfo(ep.name, "local", None))
    return tuple(drivers.items())


def driver_info(name: str) -> DriverInfo:
    """Look a driver up by name; raise ``NotFoundError`` naming the valid ones."""
    drivers = known_drivers()
    if name not in drivers:
        raise NotFoundError(f"unknown driver {name!r}; known drivers: {', '.join(sorted(drivers))}")
    return drivers[name]
