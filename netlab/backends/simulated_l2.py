"""The simulated backend's L2 steps: VXLAN and macvlan devices, bridge ports, VXLAN FDB and neighbour entries.

:class:`~netlab.backends.simulated.SimulatedBackend` runs CreateVxlan, CreateMacvlan, SetMaster,
AddFdb, DeleteFdb, AddNeigh and DeleteNeigh with the handlers in :data:`HANDLERS` (it imports this
module on first use, as this module builds on it). Each handler checks everything before it changes
anything, so a failing step leaves no trace. Kernel behaviour mirrored (drivers/net/vxlan,
drivers/net/macvlan.c, net/bridge/br_if.c, net/core/rtnetlink.c, net/core/neighbour.c):

* **CreateVxlan** places the device (left down) in ``target_ns``; its socket and underlay stay in
  ``ns``. MTU: the given one, capped at the underlay device's MTU minus 50 (``vxlan_config_apply``
  caps it silently), which is also the default (1450 over 1500). ``vni`` outside 0..16777215 is
  ``ERANGE`` (``vxlan_validate``; the kernel takes 0); ``port`` outside 0..65535 and a non-IPv4 or
  multicast ``local`` are ``EINVAL``; port 0 means the kernel's default, 8472. A second device with
  the same VNI and port over the same underlay namespace is ``EEXIST`` (``vxlan_vni_in_use``). A
  VXLAN device goes when its underlay device goes (``vxlan_handle_lowerdev_unregister``).
* **CreateMacvlan** places the device (left down) in ``target_ns``. MTU: the parent's unless given;
  above the parent's is ``EINVAL``. A macvlan on a macvlan attaches to the real lower device. A
  parent that is ``lo`` is ``EINVAL``, one that is a bridge port ``EBUSY`` (its rx handler is taken);
  ``passthru`` needs a parent without macvlans and then takes its MAC, and no macvlan can join a
  passthru parent (``EINVAL``). Modes other than bridge|private|vepa|passthru are ``EINVAL``.
* A given MAC of a new vxlan/macvlan must be unicast and not all-zero (``EADDRNOTAVAIL``, as the
  kernel's ``validate`` hooks say); a name taken in ``target_ns`` is ``EEXIST`` (kernels before the
  v6.13 fix "rtnetlink: Lookup device in target netns when creating link" also refused a name that
  exists in ``ns``).
* **SetMaster** (``do_set_master`` then ``br_add_if``): already enslaved to that bridge is a no-op;
  a master that is not a bridge is ``EOPNOTSUPP``; ``lo`` as a port is ``EINVAL``, a bridge ``ELOOP``,
  a link with macvlans on it or stacked on the bridge itself ``EBUSY``. A port of another bridge moves.
* **AddFdb/DeleteFdb** act on VXLAN devices only: on any other link AddFdb is ``EOPNOTSUPP`` (the
  kernel would store a MAC in the device's unicast filter of a veth or bridge, and refuse ``lo`` with
  ``EINVAL``; netlab treats all of them alike, and the kernel backend checks the kind itself). Adding
  a MAC that has an entry is ``EEXIST`` (``NLM_F_EXCL``); with ``append`` it adds the destination to
  an all-zero or multicast MAC (``vxlan_fdb_append``) and is a no-op for a unicast MAC that has an
  entry (``vxlan_fdb_update_existing``); appending a ``(mac, dst)`` that is there is ``EEXIST`` (the
  kernel takes it silently; netlab's kernel backend checks first, as here). DeleteFdb with dst
  ``0.0.0.0`` removes every destination of the MAC.
* **AddNeigh** adds a permanent IPv4 entry to any link; ``(ifname, ip)`` taken is ``EEXIST``.
* Bad MAC or IPv4 text is ``EINVAL``; the deletes check it first, then succeed whatever is missing
  (namespace, link, entry). Checks run in the kernel backend's order: its own argument checks, then
  the namespaces, the links it looks up, and what the kernel checks, in the kernel's order; messages
  use its wording.
"""

from __future__ import annotations

import errno
import ipaddress
from collections.abc import Callable
from typing import Any

from netlab.backends import (
    AddFdb,
    AddNeigh,
    CreateMacvlan,
    CreateVxlan,
    DeleteFdb,
    DeleteNeigh,
    SetMaster,
    Step,
)
from netlab.backends.simulated import MIN_MTU, SimulatedBackend, _check_mtu, _check_name, _Fail, _Link, _mac

__all__ = ["HANDLERS", "MACVLAN_MODES", "VXLAN_HEADROOM", "describe"]

VNI_LIMIT = 1 << 24        # VXLAN_N_VID
DEFAULT_VXLAN_PORT = 8472  # the vxlan module's udp_port, used for port 0
VXLAN_HEADROOM = 50        # outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) headers
MACVLAN_MODES = ("bridge", "private", "vepa", "passthru")
ZERO_MAC = "00:00:00:00:00:00"


def describe(step: Step) -> str | None:
    """The step in words for error messages (None: not one of this module's steps)."""
    match step:
        case CreateVxlan():
            where = f" for netns {step.target_ns!r}" if step.target_ns not in (None, step.ns) else ""
            return f"create vxlan {step.name!r} (vni {step.vni}, local {step.local}, dev {step.dev!r}){where}"
        case CreateMacvlan():
            return (f"create macvlan {step.name!r} (parent {step.parent!r}, mode {step.mode}) "
                    f"for netns {step.target_ns!r}")
        case SetMaster():
            return f"enslave link {step.ifname!r} to bridge {step.master!r}"
        case AddFdb():
            return f"{'append' if step.append else 'add'} fdb entry {step.mac} dst {step.dst} on link {step.ifname!r}"
        case DeleteFdb():
            return f"delete fdb entry {step.mac} dst {step.dst} on link {step.ifname!r}"
        case AddNeigh():
            return f"add neighbour {step.ip} lladdr {step.mac} on link {step.ifname!r}"
        case DeleteNeigh():
            return f"delete neighbour {step.ip} on link {step.ifname!r}"
    return None


def _ipv4(text: str, what: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise _Fail(errno.EINVAL, f"{what} {text!r} is not an IPv4 address") from None


def _multi(mac: str) -> bool:
    """All-zero or multicast: a MAC that is not a device address, and whose FDB entry takes several destinations."""
    return mac == ZERO_MAC or bool(int(mac[:2], 16) & 1)


def _device_mac(given: str | None, ns: str, name: str) -> str:
    """The MAC of a new device: ``given`` (``is_valid_ether_addr`` or ``EADDRNOTAVAIL``) or a made-up one."""
    mac = _mac(given, ns, name)
    if given is not None and _multi(mac):
        raise _Fail(errno.EADDRNOTAVAIL, f"{mac} is not a unicast MAC address")
    return mac


def _uppers(sim: SimulatedBackend, ns: str, name: str) -> list[_Link]:
    """The macvlans whose lower device is ``name`` in ``ns``."""
    return [x for _, x in sim._all_links() if x.parent == (ns, name)]


def create_vxlan(sim: SimulatedBackend, step: CreateVxlan) -> None:
    local = _ipv4(step.local, "local address")
    if not 0 <= step.vni < VNI_LIMIT:
        raise _Fail(errno.ERANGE, f"vni {step.vni} outside 0..{VNI_LIMIT - 1}")
    if not 0 <= step.port <= 65535:
        raise _Fail(errno.EINVAL, f"port {step.port} outside 0..65535")
    sim._get(step.ns)
    where = step.ns if step.target_ns is None else step.target_ns
    if where not in sim._ns:
        raise _Fail(errno.ENOENT, "no such namespace", where)
    target = sim._ns[where]
    lower = sim._link(step.ns, step.dev)
    _check_name(step.name)
    _check_mtu(step.mtu)
    mac = _device_mac(step.mac, where, step.name)
    if step.name in target.links:
        raise _Fail(errno.EEXIST, f"link {step.name!r} exists in netns {where!r}")
    if local.is_multicast:
        raise _Fail(errno.EINVAL, f"local address {local} is multicast")
    port = step.port or DEFAULT_VXLAN_PORT
    for key, other in sim._all_links():
        if other.underlay is not None and other.underlay[0] == step.ns and other.info is not None and \
                (other.info[0], other.info[2]) == (step.vni, port):
            raise _Fail(errno.EEXIST, f"vni {step.vni} port {port} is taken by {key[1]!r} in netns {key[0]!r}")
    max_mtu = max(lower.mtu - VXLAN_HEADROOM, MIN_MTU)
    sim._new_link(target, _Link(step.name, "vxlan", 0, mac, min(step.mtu or max_mtu, max_mtu),
                                info=(step.vni, str(local), port, step.learning), underlay=(step.ns, step.dev)))


def create_macvlan(sim: SimulatedBackend, step: CreateMacvlan) -> None:
    if step.mode not in MACVLAN_MODES:
        raise _Fail(errno.EINVAL, f"unknown macvlan mode {step.mode!r} (not {'|'.join(MACVLAN_MODES)})")
    sim._get(step.ns)
    if step.target_ns not in sim._ns:
        raise _Fail(errno.ENOENT, "no such namespace", step.target_ns)
    target = sim._ns[step.target_ns]
    lower_ns, lower = step.ns, sim._link(step.ns, step.parent)
    _check_name(step.name)
    _check_mtu(step.mtu)
    mac = _device_mac(step.mac, step.target_ns, step.name)
    if step.name in target.links:
        raise _Fail(errno.EEXIST, f"link {step.name!r} exists in netns {step.target_ns!r}")
    if lower.parent is not None:   # a macvlan on a macvlan attaches to the real device
        lower_ns, lower = lower.parent[0], sim._link(*lower.parent)
    if step.mtu is not None and step.mtu > lower.mtu:
        raise _Fail(errno.EINVAL, f"mtu {step.mtu} above the mtu {lower.mtu} of {lower.name!r}")
    if lower.kind == "loopback":
        raise _Fail(errno.EINVAL, "a macvlan needs an Ethernet parent, not the loopback device")
    siblings = _uppers(sim, lower_ns, lower.name)
    if not siblings and lower.master is not None:
        raise _Fail(errno.EBUSY, f"{lower.name!r} is a port of bridge {lower.master!r}")
    if any(x.info == ("passthru",) for x in siblings) or (step.mode == "passthru" and siblings):
        raise _Fail(errno.EINVAL, f"a passthru macvlan must be the only one on {lower.name!r}")
    sim._new_link(target, _Link(step.name, "macvlan", 0, lower.mac if step.mode == "passthru" else mac,
                                step.mtu or lower.mtu, info=(step.mode,), parent=(lower_ns, lower.name)))


def set_master(sim: SimulatedBackend, step: SetMaster) -> None:
    net = sim._get(step.ns)
    master = sim._link(step.ns, step.master)
    port = sim._link(step.ns, step.ifname)
    if port.master == master.name:
        return
    if master.kind != "bridge":
        raise _Fail(errno.EOPNOTSUPP, f"master {master.name!r} is a {master.kind}, not a bridge")
    if port.kind == "loopback":
        raise _Fail(errno.EINVAL, "the loopback device cannot be a bridge port")
    if port.kind == "bridge":
        raise _Fail(errno.ELOOP, f"{port.name!r} is a bridge: bridges cannot be enslaved to a bridge")
    if _uppers(sim, step.ns, port.name):
        raise _Fail(errno.EBUSY, f"{port.name!r} has macvlans on it")
    lower = port
    while (key := lower.parent or lower.underlay) is not None and key[0] in sim._ns and key[1] in sim._ns[key[0]].links:
        if key == (step.ns, master.name):   # __netdev_upper_dev_link refuses a loop
            raise _Fail(errno.EBUSY, f"{port.name!r} is stacked on {master.name!r}")
        lower = sim._ns[key[0]].links[key[1]]
    old, port.master = port.master, master.name
    for bridge in (net.links.get(old) if old else None, master):
        if bridge is not None:
            sim._bridge_follow_ports(net, bridge)


def _fdb_args(step: AddFdb | DeleteFdb) -> tuple[str, str]:
    """The MAC (lower case) and the destination; ``EINVAL`` for bad text."""
    return _mac(step.mac, step.ns, step.ifname), str(_ipv4(step.dst, "dst"))


def add_fdb(sim: SimulatedBackend, step: AddFdb) -> None:
    mac, dst = _fdb_args(step)
    net = sim._get(step.ns)
    link = sim._link(step.ns, step.ifname)
    if link.kind != "vxlan":
        raise _Fail(errno.EOPNOTSUPP, f"{link.name!r} is a {link.kind}: fdb entries go on vxlan devices")
    dsts = [d for i, m, d in net.fdb if (i, m) == (step.ifname, mac)]
    if dsts and (not step.append or dst in dsts):
        raise _Fail(errno.EEXIST, f"{mac} has an entry on {step.ifname!r} (dst {', '.join(dsts)})")
    if not dsts or _multi(mac):    # appending to a unicast MAC that has an entry changes nothing
        net.fdb.append((step.ifname, mac, dst))


def delete_fdb(sim: SimulatedBackend, step: DeleteFdb) -> None:
    mac, dst = _fdb_args(step)
    if step.ns in sim._ns:
        net = sim._ns[step.ns]
        net.fdb = [e for e in net.fdb if e[:2] != (step.ifname, mac) or dst not in (e[2], "0.0.0.0")]


def add_neigh(sim: SimulatedBackend, step: AddNeigh) -> None:
    mac, ip = _mac(step.mac, step.ns, step.ifname), str(_ipv4(step.ip, "neighbour"))
    net = sim._get(step.ns)
    sim._link(step.ns, step.ifname)
    if (step.ifname, ip) in net.neighbours:
        raise _Fail(errno.EEXIST, f"{ip} has an entry on {step.ifname!r} ({net.neighbours[step.ifname, ip]})")
    net.neighbours[step.ifname, ip] = mac


def delete_neigh(sim: SimulatedBackend, step: DeleteNeigh) -> None:
    ip = str(_ipv4(step.ip, "neighbour"))
    if step.ns in sim._ns:
        sim._ns[step.ns].neighbours.pop((step.ifname, ip), None)


#: step type name -> handler(backend, step)
HANDLERS: dict[str, Callable[[SimulatedBackend, Any], None]] = {
    "CreateVxlan": create_vxlan, "CreateMacvlan": create_macvlan, "SetMaster": set_master, "AddFdb": add_fdb,
    "DeleteFdb": delete_fdb, "AddNeigh": add_neigh, "DeleteNeigh": delete_neigh,
}
