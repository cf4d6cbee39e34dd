"""The netlink half of the kernel backend: cached sockets, ifindex lookups and one handler per netlink step.

:class:`NetlinkSteps` is the base of :class:`~netlab.backends.kernel.KernelBackend`;
all of it runs on the pool's worker thread (see :mod:`netlab.backends.netns`).

* Links born elsewhere (a veth's peer, a vxlan, a macvlan) are made by **one**
  ``RTM_NEWLINK`` sent in the step's ``ns`` carrying ``IFLA_NET_NS_FD`` of the
  target namespace: the device is born there, and never shows up in any other
  namespace. A vxlan made that way keeps its UDP socket (and its underlay
  routing and ``dev``) in ``ns``, the way libnetwork's overlay driver creates
  ``vx-*`` in the host namespace and moves it into the network's namespace.
* FDB entries are ``NTF_SELF | NUD_PERMANENT`` entries with a ``dst`` on a vxlan
  device (``bridge fdb add MAC dev vx dst VTEP self permanent``); ``append`` adds
  one more remote to the same MAC, which the kernel accepts silently even when
  it is already there: a duplicate is found from a dump (taken once per
  ``apply`` and device, then kept up to date) and is ``EEXIST``, as a duplicate
  ``add`` is. Neighbour entries are ``NUD_PERMANENT`` IPv4 ones.
* Deleting an FDB or neighbour entry that is not there (``ENOENT``), on a link
  that is not there (``ENODEV``) or in a namespace that is gone succeeds.
* ``SetMaster`` passes the kernel's errno through (``EOPNOTSUPP`` for a master
  that is not a bridge); note that the kernel releases the link from its old
  master before it tries the new one, so a failed ``SetMaster`` leaves the
  link without a master.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from netlab.backends import (
    AddAddress,
    AddFdb,
    AddNeigh,
    AddRoute,
    CreateMacvlan,
    CreateVeth,
    CreateVxlan,
    DeleteFdb,
    DeleteNeigh,
    DeleteRoute,
    SetMaster,
)
from netlab.backends import netns as _netns
from netlab.errors import BackendError

__all__ = ["MACVLAN_MODES", "NetlinkSteps", "fail", "gone", "is_step_route", "link_info", "os_fail", "present",
           "require"]

_RT_TABLE_MAIN, _RTPROT_KERNEL = 254, 2
_NUD_PERMANENT, _NTF_SELF = 0x80, 0x02
_AF_BRIDGE = 7
#: macvlan mode names and their ``IFLA_MACVLAN_MODE`` values
MACVLAN_MODES = {"private": 1, "vepa": 2, "bridge": 4, "passthru": 8}
_MACVLAN_NAMES = {value: name for name, value in MACVLAN_MODES.items()} | {16: "source"}
_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")


class NetlinkSteps:
    """Worker-thread plumbing and the netlink step handlers of :class:`~netlab.backends.kernel.KernelBackend`."""

    def __init__(self) -> None:
        self._pool = _netns.NetlinkPool()
        self._ifindex: dict[tuple[str, str], int] = {}  # worker thread only, during one apply
        self._seen: dict[str, Any] = {}                  # the IPRoute those ifindexes came through
        self._fdb: dict[tuple[str, str], set[tuple[str, str]]] = {}  # (mac, dst) per vxlan, during one apply

    def _reset(self) -> None:
        """Forget what one ``apply`` remembered (ifindexes, sockets seen, FDB entries)."""
        self._ifindex.clear()
        self._seen.clear()
        self._fdb.clear()

    # -- plumbing ---------------------------------------------------------------------------------------------------
    def _ipr(self, ns: str, desc: str) -> Any:
        """The cached ``IPRoute`` of ``ns``; a new one (namespace re-created) voids the ifindexes remembered there."""
        try:
            ipr = self._pool.get(ns)
        except ValueError as exc:
            raise BackendError(f"{desc}: {exc}", errno.EINVAL) from exc
        except OSError as exc:
            self._forget(ns)
            raise os_fail(desc, ns, exc) from exc
        if self._seen.get(ns) is not ipr:
            self._forget(ns)
            self._seen[ns] = ipr
        return ipr

    def _netlink(self, desc: str, ns: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` with a ``NetlinkError`` turned into a ``BackendError`` with its errno."""
        from pyroute2.netlink.exceptions import NetlinkError

        try:
            return fn(*args, **kwargs)
        except NetlinkError as exc:
            raise fail(desc, ns, exc.code) from exc
        except (OSError, ValueError, TypeError) as exc:  # pyroute2 could not encode the request
            raise fail(f"{desc} ({exc})", ns, getattr(exc, "errno", None) or errno.EINVAL) from exc

    def _index(self, ipr: Any, ns: str, ifname: str, desc: str) -> int:
        """The ifindex of ``ifname`` in ``ns`` (ENODEV if missing), remembered for the rest of one ``apply``."""
        key = (ns, ifname)
        if key not in self._ifindex:
            self._ifindex[key] = int(self._netlink(desc, ns, ipr.link, "get", ifname=ifname)[0]["index"])
        return self._ifindex[key]

    def _forget(self, ns: str, ifname: str | None = None) -> None:
        """Drop remembered ifindexes and FDB entries of ``ns`` (of one link, or all when the namespace goes/comes)."""
        for cache in (self._ifindex, self._fdb):
            for key in [k for k in cache if k[0] == ns and ifname in (None, k[1])]:
                del cache[key]

    @contextmanager
    def _placed(self, ns: str, target: str | None, desc: str) -> Iterator[dict[str, int]]:
        """``{"net_ns_fd": fd}`` placing a new link in ``target`` (``ENOENT`` if missing), or ``{}`` for ``ns`` itself.

        The fd is checked against ``/run/netns/TARGET`` and closed afterwards.
        """
        if target is None or target == ns:
            yield {}
            return
        ident = require(target, desc)
        try:
            fd = _netns.open_namespace(target, ident)
        except OSError as exc:
            raise fail(desc, target, exc.errno) from exc
        try:
            yield {"net_ns_fd": fd}
        finally:
            os.close(fd)

    # -- links ------------------------------------------------------------------------------------------------------
    def _create_veth(self, step: CreateVeth) -> None:
        desc = f"create veth {step.name!r} (peer {step.peer_name!r} in netns {step.peer_ns!r})"
        ipr = self._ipr(step.ns, desc)
        kw = present(address=step.mac, mtu=step.mtu)
        with self._placed(step.ns, step.peer_ns, desc) as placed:
            if step.master is not None:
                kw["master"] = self._index(ipr, step.ns, step.master, f"{desc} on bridge {step.master!r}")
            peer = {"ifname": step.peer_name, **placed, **present(address=step.peer_mac, mtu=step.mtu)}
            self._netlink(desc, step.ns, ipr.link, "add", ifname=step.name, kind="veth", state="up", peer=peer, **kw)

    def _create_vxlan(self, step: CreateVxlan) -> None:
        where = f" for netns {step.target_ns!r}" if step.target_ns not in (None, step.ns) else ""
        desc = f"create vxlan {step.name!r} (vni {step.vni}, local {step.local}, dev {step.dev!r}){where}"
        local = _ipv4(desc, step.ns, step.local)
        if not 0 <= step.vni < 1 << 24:
            raise fail(f"{desc} (vni out of range)", step.ns, errno.ERANGE)
        if not 0 <= step.port < 1 << 16:
            raise fail(f"{desc} (port {step.port} out of range)", step.ns, errno.EINVAL)
        ipr = self._ipr(step.ns, desc)
        with self._placed(step.ns, step.target_ns, desc) as placed:
            dev = self._index(ipr, step.ns, step.dev, desc)
            self._netlink(desc, step.ns, ipr.link, "add", ifname=step.name, kind="vxlan", vxlan_id=step.vni,
                          vxlan_local=local, vxlan_link=dev, vxlan_port=step.port,
                          vxlan_learning=int(step.learning), **present(address=step.mac, mtu=step.mtu), **placed)

    def _create_macvlan(self, step: CreateMacvlan) -> None:
        desc = f"create macvlan {step.name!r} (parent {step.parent!r}, mode {step.mode}) for netns {step.target_ns!r}"
        if step.mode not in MACVLAN_MODES:
            raise fail(f"{desc} (mode is one of {', '.join(MACVLAN_MODES)})", step.ns, errno.EINVAL)
        ipr = self._ipr(step.ns, desc)
        with self._placed(step.ns, step.target_ns, desc) as placed:
            parent = self._index(ipr, step.ns, step.parent, desc)
            self._netlink(desc, step.ns, ipr.link, "add", ifname=step.name, kind="macvlan", link=parent,
                          macvlan_mode=MACVLAN_MODES[step.mode], **present(address=step.mac, mtu=step.mtu), **placed)

    def _set_master(self, step: SetMaster) -> None:
        desc = f"enslave link {step.ifname!r} to bridge {step.master!r}"
        ipr = self._ipr(step.ns, desc)
        master = self._index(ipr, step.ns, step.master, desc)
        self._netlink(desc, step.ns, ipr.link, "set", ifname=step.ifname, master=master)  # the kernel finds ifname

    # -- addresses and routes ---------------------------------------------------------------------------------------
    def _add_address(self, step: AddAddress) -> None:
        desc = f"add address {step.cidr} to link {step.ifname!r}"
        ipr = self._ipr(step.ns, desc)
        try:
            iface = ipaddress.IPv4Interface(step.cidr)
        except ValueError as exc:
            raise fail(f"{desc} ({exc})", step.ns, errno.EINVAL) from exc
        index = self._index(ipr, step.ns, step.ifname, desc)
        self._netlink(desc, step.ns, ipr.addr, "add", index=index, address=str(iface.ip),
                      prefixlen=iface.network.prefixlen)

    def _add_route(self, step: AddRoute) -> None:
        desc = f"add route {step.dst}" + (f" via {step.gateway}" if step.gateway else "") + \
            (f" dev {step.ifname}" if step.ifname else "")
        ipr = self._ipr(step.ns, desc)
        kw: dict[str, Any] = {"dst": _route_dst(desc, step.ns, step.dst)}
        if step.gateway is not None:
            kw["gateway"] = _ipv4(desc, step.ns, step.gateway)
        if step.ifname is not None:
            kw["oif"] = self._index(ipr, step.ns, step.ifname, desc)
        self._netlink(desc, step.ns, ipr.route, "add", **kw)

    def _delete_route(self, step: DeleteRoute) -> None:
        """Delete the non-kernel main-table routes to ``dst`` (as the snapshot lists them); idempotent."""
        desc = f"delete route {step.dst}"
        dst = _route_dst(desc, step.ns, step.dst)
        if gone(step.ns, desc):
            return
        ipr = self._ipr(step.ns, desc)
        addr, _, length = dst.partition("/")
        for r in self._netlink(desc, step.ns, ipr.get_routes, family=socket.AF_INET):
            if is_step_route(r) and r["dst_len"] == int(length) and (r.get_attr("RTA_DST") or "0.0.0.0") == addr:
                try:
                    self._netlink(desc, step.ns, ipr.route, "del", dst=dst, table=_RT_TABLE_MAIN, proto=r["proto"],
                                  **present(gateway=r.get_attr("RTA_GATEWAY"), oif=r.get_attr("RTA_OIF")))
                except BackendError as exc:
                    if exc.errno != errno.ESRCH:
                        raise

    # -- FDB and neighbour entries ----------------------------------------------------------------------------------
    def _add_fdb(self, step: AddFdb) -> None:
        verb = "append" if step.append else "add"
        desc = f"{verb} fdb entry {step.mac} dst {step.dst} on link {step.ifname!r}"
        mac, dst = _mac(desc, step.ns, step.mac), _ipv4(desc, step.ns, step.dst)
        ipr = self._ipr(step.ns, desc)
        index = self._index(ipr, step.ns, step.ifname, desc)
        if step.append and (mac, dst) in self._fdb_entries(ipr, step.ns, step.ifname, index, desc):
            raise fail(desc, step.ns, errno.EEXIST)  # the kernel takes a duplicate append silently
        self._netlink(desc, step.ns, ipr.fdb, verb, ifindex=index, lladdr=mac, dst=dst, state=_NUD_PERMANENT,
                      flags=_NTF_SELF)
        self._fdb.get((step.ns, step.ifname), set()).add((mac, dst))

    def _delete_fdb(self, step: DeleteFdb) -> None:
        desc = f"delete fdb entry {step.mac} dst {step.dst} on link {step.ifname!r}"
        mac, dst = _mac(desc, step.ns, step.mac), _ipv4(desc, step.ns, step.dst)
        if gone(step.ns, desc):
            return
        ipr = self._ipr(step.ns, desc)
        try:   # a vxlan entry is matched by mac and dst: another dst of that mac is left alone (and succeeds)
            index = self._index(ipr, step.ns, step.ifname, desc)
            self._netlink(desc, step.ns, ipr.fdb, "del", ifindex=index, lladdr=mac, dst=dst, state=_NUD_PERMANENT,
                          flags=_NTF_SELF)
        except BackendError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENODEV):
                raise
        self._fdb.get((step.ns, step.ifname), set()).discard((mac, dst))

    def _add_neigh(self, step: AddNeigh) -> None:
        desc = f"add neighbour {step.ip} lladdr {step.mac} on link {step.ifname!r}"
        mac, ip = _mac(desc, step.ns, step.mac), _ipv4(desc, step.ns, step.ip)
        ipr = self._ipr(step.ns, desc)
        index = self._index(ipr, step.ns, step.ifname, desc)
        self._netlink(desc, step.ns, ipr.neigh, "add", ifindex=index, dst=ip, lladdr=mac, state=_NUD_PERMANENT)

    def _delete_neigh(self, step: DeleteNeigh) -> None:
        desc = f"delete neighbour {step.ip} on link {step.ifname!r}"
        ip = _ipv4(desc, step.ns, step.ip)
        if gone(step.ns, desc):
            return
        ipr = self._ipr(step.ns, desc)
        try:
            index = self._index(ipr, step.ns, step.ifname, desc)
            self._netlink(desc, step.ns, ipr.neigh, "del", ifindex=index, dst=ip)
        except BackendError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENODEV):
                raise

    # -- read back --------------------------------------------------------------------------------------------------
    def _fdb_entries(self, ipr: Any, ns: str, ifname: str, index: int, desc: str) -> set[tuple[str, str]]:
        """``(mac, dst)`` of the step-made entries on link ``ifname``: dumped once per ``apply``, then kept up to
        date by ``AddFdb``/``DeleteFdb`` (like ifindexes, this assumes nobody else changes them meanwhile)."""
        key = (ns, ifname)
        if key not in self._fdb:
            self._fdb[key] = {(mac, dst) for i, mac, dst in self._fdb_dump(ipr, ns, desc) if i == index}
        return self._fdb[key]

    def _fdb_dump(self, ipr: Any, ns: str, desc: str) -> list[tuple[int, str, str]]:
        """``(ifindex, mac, dst)`` of the permanent FDB entries with a ``dst`` (what ``AddFdb`` makes) in ``ns``.

        The kernel's own entries (a port's MAC, multicast MACs, what a bridge or a
        learning vxlan learnt) have no ``dst`` or are not permanent.
        """
        out = []
        for n in self._netlink(desc, ns, ipr.fdb, "dump"):
            dst, mac = n.get_attr("NDA_DST"), n.get_attr("NDA_LLADDR")
            if n["family"] == _AF_BRIDGE and n["state"] & _NUD_PERMANENT and dst and mac:
                out.append((int(n["ifindex"]), str(mac).lower(), str(dst)))
        return out

    def _read_fdb(self, ipr: Any, ns: str, names: dict[int, str], vxlans: set[int]) -> set[tuple[str, str, str]]:
        """The snapshot's ``fdb``: permanent entries with a ``dst`` on the vxlan devices ``vxlans`` of ``ns``."""
        if not vxlans:
            return set()
        return {(names[i], mac, dst) for i, mac, dst in self._fdb_dump(ipr, ns, "snapshot") if i in vxlans}

    def _read_neighbours(self, ipr: Any, ns: str, names: dict[int, str]) -> set[tuple[str, str, str]]:
        """The snapshot's ``neighbours``: ``NUD_PERMANENT`` IPv4 entries as ``(ifname, ip, mac)``."""
        out = set()
        for n in self._netlink("snapshot", ns, ipr.get_neighbours, family=socket.AF_INET):
            ip, mac = n.get_attr("NDA_DST"), n.get_attr("NDA_LLADDR")
            if n["state"] & _NUD_PERMANENT and ip and mac:
                out.add((names.get(int(n["ifindex"]), str(n["ifindex"])), str(ip), str(mac).lower()))
        return out


def link_info(kind: str, msg: Any) -> tuple[Any, ...] | None:
    """``LinkState.info`` of a link message: vxlan ``(vni, local, port, learning)``, macvlan ``(mode,)``, else None."""
    data = msg.get_nested("IFLA_LINKINFO", "IFLA_INFO_DATA")
    if data is None:
        return None
    if kind == "vxlan":
        return (data.get_attr("IFLA_VXLAN_ID"), data.get_attr("IFLA_VXLAN_LOCAL"), data.get_attr("IFLA_VXLAN_PORT"),
                bool(data.get_attr("IFLA_VXLAN_LEARNING")))
    if kind == "macvlan":
        mode = data.get_attr("IFLA_MACVLAN_MODE")
        return (mode if isinstance(mode, str) else _MACVLAN_NAMES.get(mode, str(mode)),)
    return None


# -- helpers --------------------------------------------------------------------------------------------------------
def fail(desc: str, ns: str, code: int | None) -> BackendError:
    """``BackendError("<desc> in netns 'ns': <strerror> (<ERRNO>)", code)``; ``EIO`` when there is no code."""
    code = code or errno.EIO
    name = errno.errorcode.get(code, str(code))
    return BackendError(f"{desc} in netns {ns!r}: {os.strerror(code)} ({name})", code)


def os_fail(desc: str, ns: str, exc: OSError) -> BackendError:
    return fail(f"{desc} (refused: the machine's own namespace)" if exc.errno == errno.EPERM else desc, ns, exc.errno)


def require(ns: str, desc: str) -> tuple[int, int]:
    """The identity of namespace ``ns``: ``ENOENT`` if missing, ``EPERM`` if it is the machine's own namespace."""
    try:
        return _netns.require(ns)
    except ValueError as exc:
        raise BackendError(f"{desc}: {exc}", errno.EINVAL) from exc
    except OSError as exc:
        raise os_fail(desc, ns, exc) from exc


def gone(ns: str, desc: str) -> bool:
    """True if namespace ``ns`` does not exist (``EINVAL`` for a name that cannot be one)."""
    try:
        return _netns.namespace_identity(ns) is None
    except ValueError as exc:
        raise BackendError(f"{desc}: {exc}", errno.EINVAL) from exc


def is_step_route(r: Any) -> bool:
    """A main-table route that a step added (not one the kernel derived from an address)."""
    return bool((r.get_attr("RTA_TABLE") or r["table"]) == _RT_TABLE_MAIN and r["proto"] != _RTPROT_KERNEL)


def present(**kwargs: Any) -> dict[str, Any]:
    """The keyword arguments that are not None."""
    return {k: v for k, v in kwargs.items() if v is not None}


def _route_dst(desc: str, ns: str, dst: str) -> str:
    """``"default"`` or a CIDR as ``"a.b.c.d/len"``; host bits set is ``EINVAL``, as the kernel says."""
    try:
        return str(ipaddress.IPv4Network("0.0.0.0/0" if dst == "default" else dst))
    except ValueError as exc:
        raise fail(f"{desc} ({exc})", ns, errno.EINVAL) from exc


def _ipv4(desc: str, ns: str, ip: str) -> str:
    try:
        return str(ipaddress.IPv4Address(ip))
    except ValueError as exc:
        raise fail(f"{desc} ({exc})", ns, errno.EINVAL) from exc


def _mac(desc: str, ns: str, mac: str) -> str:
    """``mac`` in lower case; ``EINVAL`` unless it is six colon-separated hex bytes."""
    if not _MAC.fullmatch(mac.lower()):
        raise fail(f"{desc} (bad MAC address {mac!r})", ns, errno.EINVAL)
    return mac.lower()
