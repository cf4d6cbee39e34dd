"""The simulated backend: an in-memory kernel that runs the same steps and fails with the same errnos.

:class:`SimulatedBackend` keeps namespaces, links, addresses, routes, sysctls and
nftables tables as plain data, so labs can be "deployed", snapshotted and
compared without root. Its snapshots are meant to equal the kernel backend's for
the same steps. Kernel details it mirrors:

* a new namespace holds ``lo`` (loopback, down, ifindex 1, mtu 65536); ifindexes
  come from a per-namespace counter that is never reused; a veth's peer is
  registered first, so with both ends in one namespace the peer gets the lower index;
* ``CreateBridge`` brings the bridge up; ``CreateVeth`` brings the ``ns`` end up and
  leaves the peer down; MACs not given are made up (deterministic, locally
  administered); a bridge without an explicit MAC takes the lowest port MAC, and its
  MTU follows the smallest port MTU (1500 with no ports), as ``br_stp_recalculate_bridge_id``
  and ``br_mtu_auto_adjust`` do;
* a route's device is resolved like ``fib_check_nh``: a gateway must lie in a
  connected subnet of an up link (of ``ifname`` when given), else ``ENETUNREACH``;
  a device-only route needs the link up, else ``ENETDOWN``; a second route to the
  same destination is ``EEXIST``. Snapshots report the resolved device;
* deleting a link drops its addresses and the routes through it, a veth takes its
  peer along, a bridge releases its ports; deleting a namespace destroys the
  peers of its veths elsewhere; ``lo`` cannot be deleted (``EOPNOTSUPP``);
  ``DeleteLink``/``DeleteRoute`` in a missing namespace succeed (deletes are idempotent);
* VXLAN and macvlan devices, bridge ports, VXLAN FDB and neighbour entries (CreateVxlan,
  CreateMacvlan, SetMaster, AddFdb, DeleteFdb, AddNeigh, DeleteNeigh) are handled in
  :mod:`netlab.backends.simulated_l2`, which documents the kernel rules it follows; deleting a link
  also drops its FDB and neighbour entries and destroys the macvlans on it and the VXLAN devices
  whose underlay device it is (in any namespace), as the kernel's netdevice notifiers do;
* ``ApplyRuleset`` is one nft transaction over ``add table|chain|rule``, ``delete table``,
  ``flush table|chain`` (:mod:`netlab.backends.simulated_nft`; any other command is ``EINVAL``);
  like the kernel backend, which runs ``nft``, every failure of it is ``EINVAL``.
* ``write_hosts`` keeps a namespace's hosts file with the namespace (it goes with it, and
  :meth:`~SimulatedBackend.to_dict` persists it).

Errors are :class:`~netlab.errors.BackendError` with the kernel's errno and the kernel
backend's wording: ``"<step> in netns 'ns': <strerror> (<ERRNO>): <detail>"``.

``exec`` runs no processes; it answers ``ip [-br] addr|link|route|neigh [show]``, ``bridge fdb``
and ``getent hosts NAME...`` from the simulated state (:mod:`netlab.backends.simulated_exec`).
"""

from __future__ import annotations

import copy
import errno
import functools
import hashlib
import ipaddress
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from netlab.backends import (
    SNAPSHOT_SYSCTLS,
    AddAddress,
    AddRoute,
    ApplyRuleset,
    CreateBridge,
    CreateNamespace,
    CreateVeth,
    DeleteLink,
    DeleteNamespace,
    DeleteRoute,
    ExecResult,
    LinkState,
    NamespaceState,
    SetSysctl,
    SetUp,
    Snapshot,
    Step,
    hostsfile,
)
from netlab.backends.hostsfile import HostsEntry
from netlab.backends.nftjson import normalize_ruleset
from netlab.backends.simulated_nft import NftError, apply_nft, listing, resulting_ruleset
from netlab.errors import BackendError, InvalidRequestError, NotSupportedError

__all__ = ["FORMAT", "LinkView", "NamespaceView", "SimulatedBackend", "resulting_ruleset"]

FORMAT = "netlab-simulated/1"
MIN_MTU, MAX_MTU, DEFAULT_MTU = 68, 65535, 1500
DEFAULT_SYSCTLS = {"net.ipv4.ip_forward": "0"}
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_SYSCTL = re.compile(r"^net(\.[A-Za-z0-9_-]+)+$")


class _Fail(Exception):
    """Raised by step handlers with an errno; :meth:`SimulatedBackend.apply` adds the step and namespace."""

    def __init__(self, code: int, detail: str = "", ns: str | None = None) -> None:
        super().__init__(detail)
        self.code, self.detail, self.ns = code, detail, ns


@dataclass(slots=True)
class _Link:
    name: str
    kind: str
    ifindex: int
    mac: str
    mtu: int
    up: bool = False
    master: str | None = None
    peer: tuple[str, str] | None = None      # (namespace, name) of a veth's other end
    addresses: list[str] = field(default_factory=list)
    mac_set: bool = True                      # False: a bridge whose MAC follows its ports
    info: tuple[Any, ...] | None = None       # LinkState.info: vxlan (vni, local, port, learning); macvlan (mode,)
    underlay: tuple[str, str] | None = None   # vxlan: (namespace, dev) whose routing carries its UDP
    parent: tuple[str, str] | None = None     # macvlan: (namespace, name) of its lower (real) device


@dataclass(slots=True)
class _Netns:
    links: dict[str, _Link] = field(default_factory=dict)
    routes: dict[str, tuple[str | None, str]] = field(default_factory=dict)   # dst -> (gateway, device)
    sysctls: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SYSCTLS))
    tables: list[dict[str, Any]] = field(default_factory=list)   # {"table": {}, "chains": [{"chain": {}, "rules": []}]}
    last_ifindex: int = 0
    fdb: list[tuple[str, str, str]] = field(default_factory=list)       # (vxlan ifname, mac, dst VTEP), as added
    neighbours: dict[tuple[str, str], str] = field(default_factory=dict)  # (ifname, ip) -> mac, as added
    hosts: list[HostsEntry] = field(default_factory=list)   # the hosts file: (address, names), in order

    def connected(self, ifname: str | None = None) -> list[tuple[ipaddress.IPv4Network, str, str]]:
        """(subnet, device, source address) of every address on an up link (only ``ifname``'s if given)."""
        return [(ipaddress.IPv4Interface(cidr).network, link.name, cidr.split("/")[0])
                for link in self.links.values() if link.up and ifname in (None, link.name) for cidr in link.addresses]


@dataclass(frozen=True, slots=True)
class LinkView:
    """A link as the packet walker sees it: :class:`LinkState` plus the veth peer, bridge ports and the
    devices stacked on it (a VXLAN device's underlay, a macvlan's parent and the reverse)."""

    name: str
    kind: str
    up: bool
    mac: str
    mtu: int
    ifindex: int
    master: str | None
    peer: tuple[str, str] | None     # (namespace, name) of the other end of a veth
    ports: tuple[str, ...]           # links enslaved to this bridge, by ifindex
    addresses: tuple[str, ...]       # CIDRs, in the order added
    info: tuple[Any, ...] | None     # as LinkState.info: vxlan (vni, local, port, learning); macvlan (mode,)
    underlay_ns: str | None          # vxlan: the namespace whose routing carries its UDP (its socket lives there)
    underlay_dev: str | None         # vxlan: the underlay link in underlay_ns
    parent: tuple[str, str] | None   # macvlan: (namespace, name) of its lower device
    macvlans: tuple[tuple[str, str], ...]   # (namespace, name) of the macvlans on this link, sorted


@dataclass(frozen=True, slots=True)
class NamespaceView:
    """A read-only copy of one simulated namespace (see :meth:`SimulatedBackend.namespace`)."""

    name: str
    links: Mapping[str, LinkView]
    routes: frozenset[tuple[str, str | None, str]]       # (dst, gateway, device) added by steps
    connected: tuple[tuple[str, str, str], ...]          # (subnet, device, source) of up links' addresses
    sysctls: Mapping[str, str]
    ruleset: list[dict[str, Any]] | None
    fdb: tuple[tuple[str, str, str], ...]                # (vxlan ifname, mac, dst VTEP), in the order added
    neighbours: tuple[tuple[str, str, str], ...]         # (ifname, ip, mac), in the order added
    vteps: tuple[tuple[str, str], ...]                   # (namespace, name) of the vxlans whose UDP socket is here

    def lookup(self, address: str) -> tuple[str | None, str] | None:
        """Longest-prefix match of ``address``: ``(gateway or None, device)``, or None when unroutable."""
        ip = ipaddress.IPv4Address(address)
        best: tuple[int, str | None, str] | None = None
        candidates = [(dst, gw, dev) for dst, gw, dev in self.routes] + [(n, None, d) for n, d, _ in self.connected]
        for dst, gw, dev in candidates:
            net = ipaddress.IPv4Network("0.0.0.0/0" if dst == "default" else dst)
            if ip in net and (best is None or net.prefixlen > best[0]):
                best = (net.prefixlen, gw, dev)
        return None if best is None else (best[1], best[2])

    def neighbour(self, ifname: str, ip: str) -> str | None:
        """The MAC of a permanent neighbour entry for ``ip`` on ``ifname``, or None."""
        return next((mac for dev, addr, mac in self.neighbours if (dev, addr) == (ifname, ip)), None)

    def vxlan_destinations(self, ifname: str, mac: str) -> tuple[str, ...]:
        """The VTEPs VXLAN device ``ifname`` sends a frame for ``mac`` to, as ``vxlan_xmit`` picks them: the
        entries for ``mac``, else the all-zero (flood) entries; empty means the frame is dropped."""
        for key in (mac.lower(), "00:00:00:00:00:00"):
            found = tuple(dst for dev, m, dst in self.fdb if (dev, m) == (ifname, key))
            if found:
                return found
        return ()


def _tie(link: _Link) -> tuple[str, str | None] | None:
    """:attr:`LinkState.link` of a simulated link."""
    return link.peer or link.parent or link.underlay


def _describe(step: Step) -> str:
    """The step in words, phrased as the kernel backend phrases it."""
    match step:
        case CreateBridge() | DeleteLink():
            return f"{'create bridge' if isinstance(step, CreateBridge) else 'delete link'} {step.name!r}"
        case CreateVeth():
            return f"create veth {step.name!r} (peer {step.peer_name!r} in netns {step.peer_ns!r})"
        case AddAddress():
            return f"add address {step.cidr} to link {step.ifname!r}"
        case SetUp():
            return f"bring up link {step.ifname!r}"
        case AddRoute():
            return f"add route {step.dst}" + (f" via {step.gateway}" if step.gateway else "") + (
                f" dev {step.ifname}" if step.ifname else "")
        case DeleteRoute():
            return f"delete route {step.dst}"
        case SetSysctl():
            return f"set sysctl {step.key}={step.value}"
    return {"CreateNamespace": "create namespace", "DeleteNamespace": "delete namespace",
            "ApplyRuleset": "apply ruleset"}.get(type(step).__name__, type(step).__name__)


def _check_name(name: str) -> None:
    """``dev_valid_name``: 1..15 bytes, not ``.``/``..``, no ``/``, ``:`` or whitespace."""
    if not name or len(name.encode()) > 15 or name in (".", "..") or any(c in "/:" or c.isspace() for c in name):
        raise _Fail(errno.EINVAL, f"invalid interface name {name!r} (1 to 15 bytes, no '/', ':' or spaces)")


def _check_mtu(mtu: int | None) -> None:
    if mtu is not None and not MIN_MTU <= mtu <= MAX_MTU:
        raise _Fail(errno.EINVAL, f"mtu {mtu} outside {MIN_MTU}..{MAX_MTU}")


def _mac(given: str | None, ns: str, name: str) -> str:
    if given is not None:
        if not _MAC.match(given.lower()):
            raise _Fail(errno.EINVAL, f"invalid MAC address {given!r}")
        return given.lower()
    raw = bytearray(hashlib.sha256(f"{ns}\0{name}".encode()).digest()[:6])
    raw[0] = (raw[0] & 0xFE) | 0x02      # unicast, locally administered, like eth_hw_addr_random
    return ":".join(f"{b:02x}" for b in raw)




class SimulatedBackend:
    """An in-memory kernel; ``state`` is what :meth:`to_dict` returned (JSON-safe)."""

    name = "simulated"

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self._ns: dict[str, _Netns] = {}
        if state is not None:
            try:
                if state.get("format") != FORMAT:
                    raise ValueError(f"format is not {FORMAT!r}")
                for ns, data in state["namespaces"].items():
                    links = [_Link(**{**d, "addresses": list(d["addresses"]),
                                      **{k: tuple(d[k]) if d.get(k) is not None else None
                                         for k in ("peer", "info", "underlay", "parent")}}) for d in data["links"]]
                    self._ns[ns] = _Netns({link.name: link for link in links},
                                          {dst: (gw, dev) for dst, gw, dev in data["routes"]}, dict(data["sysctls"]),
                                          copy.deepcopy(data["tables"]), int(data["last_ifindex"]),
                                          [(i, m, d) for i, m, d in data.get("fdb", [])],
                                          {(i, ip): m for i, ip, m in data.get("neighbours", [])},
                                          [(str(a), tuple(map(str, names))) for a, names in data.get("hosts", [])])
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                raise InvalidRequestError(f"not a simulated-backend state: {exc}") from exc

    # -- persistence ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The whole simulated world as JSON-safe data (lists, dicts, str, int, bool, None)."""
        return {"format": FORMAT, "namespaces": {ns: {
            "links": [{"name": x.name, "kind": x.kind, "ifindex": x.ifindex, "mac": x.mac, "mtu": x.mtu, "up": x.up,
                       "master": x.master, "peer": list(x.peer) if x.peer else None, "addresses": list(x.addresses),
                       "mac_set": x.mac_set, **{k: None if getattr(x, k) is None else list(getattr(x, k))
                                                for k in ("info", "underlay", "parent")}} for x in net.links.values()],
            "routes": [[dst, gw, dev] for dst, (gw, dev) in net.routes.items()],
            "sysctls": dict(net.sysctls), "tables": copy.deepcopy(net.tables), "last_ifindex": net.last_ifindex,
            "fdb": [list(e) for e in net.fdb], "neighbours": [[i, ip, m] for (i, ip), m in net.neighbours.items()],
            "hosts": [[address, list(names)] for address, names in net.hosts],
        } for ns, net in sorted(self._ns.items())}}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> SimulatedBackend:
        return cls(state)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dict` as JSON atomically (temporary file in the same directory, then ``os.replace``)."""
        target = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(self.to_dict(), out, indent=1, sort_keys=True)
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str], missing_ok: bool = False) -> SimulatedBackend:
        """Read a file written by :meth:`save`; a missing file is an empty world when ``missing_ok``."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            if missing_ok:
                return cls()
            raise
        try:
            return cls(json.loads(text))
        except json.JSONDecodeError as exc:
            raise InvalidRequestError(f"{path}: not a simulated-backend state: {exc}") from exc

    # -- the Backend protocol ------------------------------------------------------------------
    def apply(self, steps: Sequence[Step]) -> None:
        """Run ``steps`` in order; each is all-or-nothing; the first failure raises ``BackendError``."""
        from netlab.backends import simulated_l2  # it builds on this module, so it is imported here, not on top

        for step in steps:
            handler = getattr(self, f"_do_{type(step).__name__}", None)
            if handler is None and type(step).__name__ in simulated_l2.HANDLERS:
                handler = functools.partial(simulated_l2.HANDLERS[type(step).__name__], self)
            if handler is None:
                raise NotSupportedError(f"the simulated backend cannot run {type(step).__name__} steps")
            try:
                handler(step)
            except _Fail as fail:
                ns = fail.ns or step.ns
                desc = simulated_l2.describe(step) or _describe(step)
                text = f"{desc} in netns {ns!r}: {os.strerror(fail.code)} ({errno.errorcode[fail.code]})"
                raise BackendError(text + (f": {fail.detail}" if fail.detail else ""), fail.code) from None

    def namespaces(self) -> list[str]:
        return sorted(self._ns)

    def snapshot(self, namespaces: Iterable[str]) -> Snapshot:
        out: Snapshot = {}
        for ns in namespaces:
            net = self._get(ns, "snapshot")
            out[ns] = NamespaceState(
                links={x.name: LinkState(x.name, x.kind, x.up, x.mac, x.mtu, x.master, x.ifindex, x.info, _tie(x))
                       for x in net.links.values()},
                addresses={(x.name, cidr) for x in net.links.values() for cidr in x.addresses},
                routes={(dst, gw, dev) for dst, (gw, dev) in net.routes.items()},
                sysctls={key: net.sysctls.get(key, DEFAULT_SYSCTLS.get(key, "")) for key in SNAPSHOT_SYSCTLS},
                ruleset=normalize_ruleset(listing(net.tables)),
                fdb=set(net.fdb), neighbours={(i, ip, m) for (i, ip), m in net.neighbours.items()})
        return out

    def namespace(self, ns: str) -> NamespaceView:
        """A read-only copy of namespace ``ns`` for the packet walker (``BackendError`` ENOENT if missing)."""
        net = self._get(ns, "namespace")
        ordered = sorted(net.links.values(), key=lambda x: x.ifindex)
        links = {x.name: LinkView(x.name, x.kind, x.up, x.mac, x.mtu, x.ifindex, x.master, x.peer,
                                  tuple(p.name for p in ordered if p.master == x.name), tuple(x.addresses), x.info,
                                  x.underlay[0] if x.underlay else None, x.underlay[1] if x.underlay else None,
                                  x.parent, tuple(k for k, y in self._all_links() if y.parent == (ns, x.name)))
                 for x in ordered}
        return NamespaceView(ns, MappingProxyType(links), frozenset((d, g, v) for d, (g, v) in net.routes.items()),
                             tuple((str(n), d, s) for n, d, s in net.connected()), MappingProxyType(dict(net.sysctls)),
                             listing(net.tables), tuple(net.fdb),
                             tuple((i, ip, m) for (i, ip), m in net.neighbours.items()),
                             tuple(k for k, y in self._all_links() if y.underlay is not None and y.underlay[0] == ns))

    def _all_links(self) -> list[tuple[tuple[str, str], _Link]]:
        """``((namespace, name), link)`` for every link, by namespace name and then ifindex."""
        return [((ns, x.name), x) for ns, net in sorted(self._ns.items())
                for x in sorted(net.links.values(), key=lambda x: x.ifindex)]

    def exec(self, ns: str, argv: Sequence[str], timeout: float = 30.0) -> ExecResult:
        """Answer ``ip [-br] addr|link|route|neigh [show]``, ``bridge fdb [show]`` and ``getent hosts NAME...`` from
        the simulated state (:mod:`netlab.backends.simulated_exec`); anything else is not supported."""
        from netlab.backends import simulated_exec  # it builds on this module, so it is imported here, not on top

        return simulated_exec.run(self, ns, argv)

    def write_hosts(self, ns: str, entries: Sequence[tuple[str, Sequence[str]]]) -> None:
        """Replace the hosts file of ``ns`` (kept with the namespace, see :mod:`netlab.backends.hostsfile`)."""
        checked = hostsfile.check_entries(entries)
        self._get(ns, "write hosts file").hosts = checked

    def close(self) -> None:
        """Nothing to release."""

    # -- steps ---------------------------------------------------------------------------------
    def _get(self, ns: str, what: str = "") -> _Netns:
        if ns not in self._ns:
            if what:   # called outside apply(): raise the BackendError directly
                raise BackendError(f"{what} in netns {ns!r}: {os.strerror(errno.ENOENT)} (ENOENT)", errno.ENOENT)
            raise _Fail(errno.ENOENT, "no such namespace")
        return self._ns[ns]

    def _do_CreateNamespace(self, step: CreateNamespace) -> None:
        if not step.ns or step.ns in (".", "..") or "/" in step.ns or "\0" in step.ns:
            raise _Fail(errno.EINVAL, "invalid namespace name")
        if step.ns in self._ns:
            raise _Fail(errno.EEXIST, "namespace exists")
        self._ns[step.ns] = net = _Netns(last_ifindex=1)
        net.links["lo"] = _Link("lo", "loopback", 1, "00:00:00:00:00:00", 65536)

    def _do_DeleteNamespace(self, step: DeleteNamespace) -> None:
        """Every link goes, with what hangs on it elsewhere: veth peers, macvlans, VXLAN devices over it."""
        for name in list(self._ns[step.ns].links) if step.ns in self._ns else ():
            self._remove_link(step.ns, name)
        self._ns.pop(step.ns, None)

    def _new_link(self, net: _Netns, link: _Link) -> None:
        net.last_ifindex += 1
        link.ifindex = net.last_ifindex
        net.links[link.name] = link

    def _do_CreateBridge(self, step: CreateBridge) -> None:
        net = self._get(step.ns)
        _check_name(step.name)
        _check_mtu(step.mtu)
        mac = _mac(step.mac, step.ns, step.name)
        if step.name in net.links:
            raise _Fail(errno.EEXIST, f"link {step.name!r} exists")
        self._new_link(net, _Link(step.name, "bridge", 0, mac, step.mtu or DEFAULT_MTU, True,
                                  mac_set=step.mac is not None))

    def _do_CreateVeth(self, step: CreateVeth) -> None:
        net = self._get(step.ns)
        if step.peer_ns not in self._ns:
            raise _Fail(errno.ENOENT, "no such namespace", step.peer_ns)
        peer_net = self._ns[step.peer_ns]
        _check_name(step.name)
        _check_name(step.peer_name)
        _check_mtu(step.mtu)
        mac, peer_mac = _mac(step.mac, step.ns, step.name), _mac(step.peer_mac, step.peer_ns, step.peer_name)
        master = net.links.get(step.master) if step.master is not None else None
        if step.master is not None and master is None:
            raise _Fail(errno.ENODEV, f"no master link {step.master!r}")
        if step.peer_name in peer_net.links or (net is peer_net and step.name == step.peer_name):
            raise _Fail(errno.EEXIST, f"link {step.peer_name!r} exists in netns {step.peer_ns!r}")
        if step.name in net.links:
            raise _Fail(errno.EEXIST, f"link {step.name!r} exists")
        if master is not None and master.kind != "bridge":
            raise _Fail(errno.EOPNOTSUPP, f"master {master.name!r} is a {master.kind}, not a bridge")
        mtu = step.mtu or DEFAULT_MTU
        self._new_link(peer_net, _Link(step.peer_name, "veth", 0, peer_mac, mtu, peer=(step.ns, step.name)))
        self._new_link(net, _Link(step.name, "veth", 0, mac, mtu, True, step.master, (step.peer_ns, step.peer_name)))
        if master is not None:
            self._bridge_follow_ports(net, master)

    @staticmethod
    def _bridge_follow_ports(net: _Netns, bridge: _Link) -> None:
        ports = [x for x in net.links.values() if x.master == bridge.name]
        bridge.mtu = min((p.mtu for p in ports), default=DEFAULT_MTU)
        if not bridge.mac_set and ports:   # with no ports left the kernel keeps the last address
            bridge.mac = min(p.mac for p in ports)

    def _do_DeleteLink(self, step: DeleteLink) -> None:
        link = self._ns[step.ns].links.get(step.name) if step.ns in self._ns else None
        if link is not None and link.kind == "loopback":
            raise _Fail(errno.EOPNOTSUPP, "the loopback device cannot be deleted")
        self._remove_link(step.ns, step.name)

    def _remove_link(self, ns: str, name: str) -> None:
        net = self._ns.get(ns)
        link = net.links.pop(name, None) if net else None
        if net is None or link is None:
            return
        for other in net.links.values():
            if other.master == name:
                other.master = None
        net.routes = {dst: route for dst, route in net.routes.items() if route[1] != name}
        net.fdb = [entry for entry in net.fdb if entry[0] != name]
        net.neighbours = {key: mac for key, mac in net.neighbours.items() if key[0] != name}
        if link.master is not None and link.master in net.links:
            self._bridge_follow_ports(net, net.links[link.master])
        if link.peer is not None:
            self._remove_link(*link.peer)
        for key, upper in self._all_links():   # macvlans on it and VXLAN devices over it go too
            if (ns, name) in (upper.parent, upper.underlay):
                self._remove_link(*key)

    def _link(self, ns: str, name: str) -> _Link:
        link = self._get(ns).links.get(name)
        if link is None:
            raise _Fail(errno.ENODEV, f"no link {name!r}")
        return link

    def _do_AddAddress(self, step: AddAddress) -> None:
        link = self._link(step.ns, step.ifname)
        try:
            cidr = str(ipaddress.IPv4Interface(step.cidr))
        except ValueError:
            raise _Fail(errno.EINVAL, f"not an IPv4 address/prefix: {step.cidr!r}") from None
        if cidr in link.addresses:
            raise _Fail(errno.EEXIST, f"{cidr} is already on {step.ifname!r}")
        link.addresses.append(cidr)

    def _do_SetUp(self, step: SetUp) -> None:
        link = self._link(step.ns, step.ifname)
        link.up = True
        if link.kind == "loopback" and "127.0.0.1/8" not in link.addresses:
            link.addresses.append("127.0.0.1/8")  # the kernel gives lo its address when it comes up

    @staticmethod
    def _route_key(dst: str) -> str:
        """``"default"`` or the network's CIDR; a CIDR with host bits set is ``EINVAL`` as in ``fib_table_insert``."""
        try:
            net = ipaddress.IPv4Network("0.0.0.0/0" if dst == "default" else dst)
        except ValueError as exc:
            raise _Fail(errno.EINVAL, str(exc)) from None
        return "default" if net.prefixlen == 0 else str(net)

    def _do_AddRoute(self, step: AddRoute) -> None:
        net = self._get(step.ns)
        key = self._route_key(step.dst)
        try:
            gateway = ipaddress.IPv4Address(step.gateway) if step.gateway is not None else None
        except ValueError as exc:
            raise _Fail(errno.EINVAL, str(exc)) from None
        link = self._link(step.ns, step.ifname) if step.ifname is not None else None
        if gateway is None and link is None:
            raise _Fail(errno.ENODEV, "a route needs a gateway or a device")
        if gateway is not None:   # fib_check_nh: the gateway must be on-link (through ifname when given)
            nets = [(n.prefixlen, dev) for n, dev, _ in net.connected(step.ifname) if gateway in n]
            if not nets:
                raise _Fail(errno.ENETUNREACH, f"gateway {gateway} is not in a connected subnet of an up link")
            device = max(nets)[1]
        elif link is not None and not link.up:
            raise _Fail(errno.ENETDOWN, f"link {link.name!r} is down")
        else:
            device = step.ifname or ""
        if key in net.routes:
            raise _Fail(errno.EEXIST, f"a route to {key} exists")
        net.routes[key] = (None if gateway is None else str(gateway), device)

    def _do_DeleteRoute(self, step: DeleteRoute) -> None:
        key = self._route_key(step.dst)
        if step.ns in self._ns:
            self._ns[step.ns].routes.pop(key, None)

    def _do_SetSysctl(self, step: SetSysctl) -> None:
        net = self._get(step.ns)
        value = step.value.strip()
        if not _SYSCTL.match(step.key):
            raise _Fail(errno.EINVAL, "only per-namespace net.* sysctls can be set")
        if step.key == "net.ipv4.ip_forward":   # an int sysctl: the kernel reads back the number it parsed
            if not re.fullmatch(r"-?[0-9]+", value):
                raise _Fail(errno.EINVAL, "net.ipv4.ip_forward takes an integer")
            value = str(int(value))
        net.sysctls[step.key] = value

    def _do_ApplyRuleset(self, step: ApplyRuleset) -> None:
        net = self._get(step.ns)
        try:
            net.tables = apply_nft(net.tables, step.ruleset)
        except NftError as fail:   # nft is a subprocess for the kernel backend: every failure of it reads as EINVAL
            raise _Fail(errno.EINVAL, f"nft: {os.strerror(fail.code)}: {fail.detail}") from None
