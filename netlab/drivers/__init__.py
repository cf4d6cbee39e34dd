"""Drivers: what each network driver is, which options it knows, and its scope.

The registry is a literal dict of built-in drivers; third-party drivers
register through the ``netlab.drivers`` entry-point group. An unknown name
raises :class:`~netlab.errors.NotFoundError` listing the valid names.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol

from netlab.errors import NotFoundError, NotSupportedError

if TYPE_CHECKING:
    from netlab.backends import Step
    from netlab.model import Network

__all__ = [
    "BUILTIN_DRIVERS",
    "COMMON_OPTIONS",
    "Driver",
    "DriverInfo",
    "EndpointContext",
    "NetworkContext",
    "driver_info",
    "get_driver",
    "known_drivers",
]

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


@dataclass(frozen=True, slots=True)
class NetworkContext:
    """What a driver needs to create one network on one host."""

    lab: str
    network: Network
    host: str
    host_ns: str
    subnet: str | None        # "10.0.0.0/24"
    gateway: str | None       # "10.0.0.1"
    mtu: int | None
    #: overlay: the VXLAN id, this host's VTEP (underlay address) and the network's namespace here
    vni: int | None = None
    vtep: str | None = None
    network_ns: str | None = None


@dataclass(frozen=True, slots=True)
class EndpointContext:
    """What a driver needs to plumb one endpoint into its sandbox (CNM join)."""

    net: NetworkContext
    sandbox: str
    sandbox_ns: str
    index: int                # n in ethN
    ifname: str               # name inside the sandbox
    address: str | None       # "10.0.0.2/24"
    mac: str | None


class Driver(Protocol):
    """CNM verbs, as kernel steps. A driver never touches the kernel itself."""

    info: DriverInfo

    def create_network(self, ctx: NetworkContext) -> list[Step]: ...

    def delete_network(self, ctx: NetworkContext) -> list[Step]: ...

    def join(self, ctx: EndpointContext) -> list[Step]: ...

    def leave(self, ctx: EndpointContext) -> list[Step]: ...


def get_driver(name: str) -> Driver:
    """The implementation of a built-in driver (plugins come with the remote-driver work)."""
    from netlab.drivers.bridge import BridgeDriver
    from netlab.drivers.host import HostDriver
    from netlab.drivers.macvlan import MacvlanDriver
    from netlab.drivers.null import NullDriver
    from netlab.drivers.overlay import OverlayDriver

    implementations: dict[str, type[Any]] = {"bridge": BridgeDriver, "null": NullDriver, "host": HostDriver,
                                             "overlay": OverlayDriver, "macvlan": MacvlanDriver}
    if name not in implementations:
        info = driver_info(name)  # NotFoundError for unknown names
        raise NotSupportedError(f"the {info.name!r} driver cannot be deployed yet (plugins come later)")
    driver: Driver = implementations[name]()
    return driver
