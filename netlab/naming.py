"""Naming: deterministic kernel object names for a lab.

The scheme (every name is derived from model names, never random):

=====================  ==============================  =========================
object                 name                            where
=====================  ==============================  =========================
host namespace         ``nl-<lab>-h-<host>``           root of the lab
sandbox namespace      ``nl-<lab>-s-<sandbox>``        root of the lab
overlay namespace      ``nl-<lab>-o-<network>-<host>`` one per overlay and host
underlay namespace     ``nl-<lab>-underlay``           the lab's "wire"
internet namespace     ``nl-<lab>-internet``           plays the outside world
bridge (bridge drv.)   ``br-<network>``                in the host namespace
host end of a veth     ``ve-<sandbox>-<n>``            host / overlay namespace
sandbox end of a veth  ``eth<n>`` (n = connect order)  in the sandbox namespace
overlay bridge         ``ov-<vni hex>``                in the overlay namespace
vxlan device           ``vx-<vni hex>``                in the overlay namespace
macvlan sub-interface  ``mv-<sandbox>-<n>``            created on the parent
=====================  ==============================  =========================

Namespace names only need to be unique per machine, so they carry the lab's
identity (``nl-<lab>-``); ``netlab down LAB`` finds them by that prefix in the
state store, and two labs never clash. Interface names live inside lab
namespaces and must fit IFNAMSIZ (15 bytes): a name that would be longer is
cut and given a 4-hex-digit hash of the full name, e.g.
``ve-averyverylongname-0`` -> ``ve-averyv-5c1e``. A user-chosen name (the
bridge driver's ``com.docker.network.bridge.name`` option) is used as given
and validation rejects it when it is too long.
"""

from __future__ import annotations

import hashlib

__all__ = [
    "IFNAMSIZ",
    "bridge_name",
    "derived_mac",
    "internet_netns",
    "underlay_netns",
    "fit_ifname",
    "host_netns",
    "lab_prefix",
    "overlay_netns",
    "sandbox_ifname",
    "sandbox_netns",
    "veth_host_name",
    "vxlan_names",
]

#: the longest interface name Linux accepts, in bytes (IFNAMSIZ - 1)
IFNAMSIZ = 15


def fit_ifname(name: str) -> str:
    """Return ``name`` if it fits in 15 bytes, else a cut name with a hash suffix.

    >>> fit_ifname("br-front")
    'br-front'
    >>> len(fit_ifname("br-a-really-long-network-name"))
    15
    """
    if len(name.encode()) <= IFNAMSIZ:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:4]
    head = name.encode()[: IFNAMSIZ - 5].decode(errors="ignore")
    return f"{head}-{digest}"


def lab_prefix(lab: str) -> str:
    """Prefix of every namespace of a lab."""
    return f"nl-{lab}-"


def host_netns(lab: str, host: str) -> str:
    return f"{lab_prefix(lab)}h-{host}"


def sandbox_netns(lab: str, sandbox: str) -> str:
    return f"{lab_prefix(lab)}s-{sandbox}"


def overlay_netns(lab: str, network: str, host: str) -> str:
    return f"{lab_prefix(lab)}o-{network}-{host}"


def bridge_name(network: str, option: str | None = None) -> str:
    """The bridge of a bridge network: the user's name if given, else ``br-<network>``."""
    return option if option else fit_ifname(f"br-{network}")


def veth_host_name(sandbox: str, index: int) -> str:
    return fit_ifname(f"ve-{sandbox}-{index}")


def sandbox_ifname(index: int, prefix: str = "eth") -> str:
    """Interface name inside the sandbox: ``eth0``, ``eth1``, ... (Docker's DstPrefix + n)."""
    return f"{prefix}{index}"


def vxlan_names(vni: int) -> tuple[str, str]:
    """(bridge, vxlan device) names of an overlay network with this VNI."""
    return f"ov-{vni:06x}", f"vx-{vni:06x}"


def derived_mac(*parts: str) -> str:
    """A stable, locally administered unicast MAC for a link netlab names (``02:xx:...``)."""
    digest = hashlib.sha1("/".join(parts).encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


def underlay_netns(lab: str) -> str:
    return f"{lab_prefix(lab)}underlay"


def internet_netns(lab: str) -> str:
    return f"{lab_prefix(lab)}internet"
