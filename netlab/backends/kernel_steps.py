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
import functools
import ipaddress
import os
import re
import socket
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from netlab.backends import (
    AddAddress,
    AddFdb,
    AddNeigh,
    AddRoute,
    CreateBridge,
    CreateMacvlan,
    CreateVeth,
    CreateVxlan,
    DeleteFdb,
    DeleteLink,
    DeleteNeigh,
    DeleteRoute,
    SetMaster,
    SetUp,
)
from netlab.backends import netns as _netns
from netlab.errors import BackendError, NotSupportedError

__all__ = ["MACVLAN_MODES", "NetlinkSteps", "fail", "gone", "is_step_route", "link_info", "os_fail", "present",
           "require"]

_RT_TABLE_MAIN, _RTPROT_KERNEL, _RTPROT_STATIC, _RTN_UNICAST = 254, 2, 4, 1
_NUD_PERMANENT, _NTF_SELF = 0x80, 0x02
_AF_BRIDGE = 7
#: macvlan mode names and their ``IFLA_MACVLAN_MODE`` values
MACVLAN_MODES = {"private": 1, "vepa": 2, "bridge": 4, "passthru": 8}
_MACVLAN_NAMES = {value: name for name, value in MACVLAN_MODES.items()} | {16: "source"}
_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")


@functools.cache
def _rt() -> Any:
    """:mod:`netlab.backends.rtnl`, imported on first use (it needs pyroute2, which the rest of netlab does not)."""
    try:
        from netlab.backends import rtnl
    except ImportError as exc:
        raise NotSupportedError("the kernel backend needs pyroute2: pip install 'netlab-cnm[kernel]'") from exc
    return rtnl


class NetlinkSteps:
    """Worker-thread plumbing and the netlink step handlers of :class:`~netlab.backends.kernel.KernelBackend`."""

    def __init__(self) -> None:
        self._pool = _netns.NetlinkPool()
        self._ifindex: dict[tuple[str, str], int] = {}  # worker thread only, during one apply
        self._seen: dict[str, tuple[int, int]] = {}      # the namespace identity those ifindexes belong to
        self._fdb: dict[tuple[str, str], set[tuple[str, str]]] = {}  # (mac, dst) per vxlan, during one apply

    def _reset(self) -> None:
        """Forget what one ``apply`` remembered (ifindexes, namespaces seen, FDB entries)."""
        self._ifindex.clear()
        self._seen.clear()
        self._fdb.clear()

    # -- plumbing ---------------------------------------------------------------------------------------------------
    def _chan(self, ns: str, desc: str) -> Any:
        """The cached channel of ``ns``; a namespace re-created meanwhile voids the ifindexes remembered there."""
        try:
            chan = self._pool.get(ns)
        except ValueError as exc:
            raise BackendError(f"{desc}: {exc}", errno.EINVAL) from exc
        except OSError as exc:
            self._forget(ns)
            raise os_fail(desc, ns, exc) from exc
        self._same_namespace(ns, chan.ident)
        return chan

    def _same_namespace(self, ns: str, ident: tuple[int, int]) -> None:
        """Remembered ifindexes and FDB entries of ``ns`` hold for namespace instance ``ident`` only."""
        if self._seen.get(ns) != ident:
            self._forget(ns)
            self._seen[ns] = ident

    def _netlink(self, desc: str, ns: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` with a ``NetlinkError`` turned into a ``BackendError`` with its errno."""
        from pyroute2.netlink.exceptions import NetlinkError

        try:
            return fn(*args, **kwargs)
        except NetlinkError as exc:
            raise fail(desc, ns, exc.code) from exc
        except (OSError, ValueError, TypeError, struct.error) as exc:  # pyroute2 could not encode the request
            raise fail(f"{desc} ({exc})", ns, getattr(exc, "errno", None) or errno.EINVAL) from exc

    def _index(self, chan: Any, ns: str, ifname: str, desc: str) -> int:
        """The ifindex of ``ifname`` in ``ns`` (ENODEV if missing), remembered for the rest of one ``apply``.

        Links made by this backend are remembered as they are made (from the kernel's echo of the request); any
        other one costs one ``RTM_GETLINK``.
        """
        key = (ns, ifname)
        index = self._ifindex.get(key)
        if index is None:
            rt = _rt()
            reply = self._netlink(desc, ns, chan.request, rt.link_msg(ifname), rt.RTM_GETLINK)
            index = self._ifindex[key] = int(reply[0]["index"])
        return index

    def _learn(self, ns: str, ident: tuple[int, int], ifname: str, index: Any) -> None:
        """Remember ``ifname``'s ifindex in ``ns`` (instance ``ident``), from a reply; ignored unless an int > 0."""
        if isinstance(index, int) and index > 0:
            self._same_namespace(ns, ident)
            self._ifindex[(ns, ifname)] = index

    def _forget(self, ns: str, ifname: str | None = None) -> None:
        """Drop remembered ifindexes and FDB entries of ``ns`` (of one link, or all when the namespace goes/comes)."""
        for cache in (self._ifindex, self._fdb):
            for key in [k for k in cache if k[0] == ns and ifname in (None, k[1])]:
                del cache[key]

    @contextmanager
    def _placed(self, ns: str, target: str | None, desc: str) -> Iterator[tuple[int | None, tuple[int, int] | None]]:
        """``(fd, identity)`` of namespace ``target`` to place a new link in (``ENOENT`` if missing), or
        ``(None, None)`` for ``ns`` itself. The fd is checked against ``/run/netns/TARGET`` and closed afterwards.
        """
        if target is None or target == ns:
            yield None, None
            return
        ident = require(target, desc)
        try:
            fd = _netns.open_namespace(target, ident)
        except OSError as exc:
            raise fail(desc, target, exc.errno) from exc
        try:
            yield fd, ident
        finally:
            os.close(fd)

    # -- links ------------------------------------------------------------------------------------------------------
    def _create_bridge(self, step: CreateBridge) -> None:
        desc = f"create bridge {step.name!r}"
        rt = _rt()
        chan = self._chan(step.ns, desc)
        msg = rt.link_msg(step.name, up=True, address=step.mac, mtu=step.mtu, kind="bridge")
        echo = self._netlink(desc, step.ns, chan.request, msg, rt.RTM_NEWLINK, rt.CREATE | rt.ECHO)
        for reply in echo:
            if reply.get_attr("IFLA_IFNAME") == step.name:
                self._learn(step.ns, chan.ident, step.name, reply["index"])

    def _create_veth(self, step: CreateVeth) -> None:
        """One request from ``ns``: the veth, its master, up, and the peer born in ``peer_ns``. The kernel's echo
        of it gives both ifindexes (the peer's as ``IFLA_LINK``), so neither is looked up later."""
        desc = f"create veth {step.name!r} (peer {step.peer_name!r} in netns {step.peer_ns!r})"
        rt = _rt()
        chan = self._chan(step.ns, desc)
        with self._placed(step.ns, step.peer_ns, desc) as (fd, peer_ident):
            master = None
            if step.master is not None:
                master = self._index(chan, step.ns, step.master, f"{desc} on bridge {step.master!r}")
            peer = [("IFLA_IFNAME", step.peer_name)] + [(name, value) for name, value in (
                ("IFLA_NET_NS_FD", fd), ("IFLA_ADDRESS", step.peer_mac), ("IFLA_MTU", step.mtu)) if value is not None]
            msg = rt.link_msg(step.name, up=True, address=step.mac, mtu=step.mtu, master=master, kind="veth",
                              data=[("VETH_INFO_PEER", {"attrs": peer})])
            echo = self._netlink(desc, step.ns, chan.request, msg, rt.RTM_NEWLINK, rt.CREATE | rt.ECHO)
        for reply in echo:
            if reply.get_attr("IFLA_IFNAME") == step.name:
                self._learn(step.ns, chan.ident, step.name, reply["index"])
                self._learn(step.peer_ns, peer_ident or chan.ident, step.peer_name, reply.get_attr("IFLA_LINK"))

    def _create_vxlan(self, step: CreateVxlan) -> None:
        where = f" for netns {step.target_ns!r}" if step.target_ns not in (None, step.ns) else ""
        desc = f"create vxlan {step.name!r} (vni {step.vni}, local {step.local}, dev {step.dev!r}){where}"
        local = _ipv4(desc, step.ns, step.local)
        if not 0 <= step.vni < 1 << 24:
            raise fail(f"{desc} (vni out of range)", step.ns, errno.ERANGE)
        if not 0 <= step.port < 1 << 16:
            raise fail(f"{desc} (port {step.port} out of range)", step.ns, errno.EINVAL)
        rt = _rt()
        chan = self._chan(step.ns, desc)
        with self._placed(step.ns, step.target_ns, desc) as (fd, _):
            dev = self._index(chan, step.ns, step.dev, desc)
            msg = rt.link_msg(step.name, address=step.mac, mtu=step.mtu, net_ns_fd=fd, kind="vxlan", data=[
                ("IFLA_VXLAN_ID", step.vni), ("IFLA_VXLAN_LOCAL", local), ("IFLA_VXLAN_LINK", dev),
                ("IFLA_VXLAN_PORT", step.port), ("IFLA_VXLAN_LEARNING", int(step.learning))])
            self._netlink(desc, step.ns, chan.request, msg, rt.RTM_NEWLINK, rt.CREATE)   # no echo: born elsewhere

    def _create_macvlan(self, step: CreateMacvlan) -> None:
        desc = f"create macvlan {step.name!r} (parent {step.parent!r}, mode {step.mode}) for netns {step.target_ns!r}"
        if step.mode not in MACVLAN_MODES:
            raise fail(f"{desc} (mode is one of {', '.join(MACVLAN_MODES)})", step.ns, errno.EINVAL)
        rt = _rt()
        chan = self._chan(step.ns, desc)
        with self._placed(step.ns, step.target_ns, desc) as (fd, _):
            parent = self._index(chan, step.ns, step.parent, desc)
            msg = rt.link_msg(step.name, link=parent, address=step.mac, mtu=step.mtu, net_ns_fd=fd, kind="macvlan",
                              data=[("IFLA_MACVLAN_MODE", MACVLAN_MODES[step.mode])])
            self._netlink(desc, step.ns, chan.request, msg, rt.RTM_NEWLINK, rt.CREATE)

    def _set_master(self, step: SetMaster) -> None:
        desc = f"enslave link {step.ifname!r} to bridge {step.master!r}"
        rt = _rt()
        chan = self._chan(step.ns, desc)
        master = self._index(chan, step.ns, step.master, desc)
        # the kernel finds ifname
        self._netlink(desc, step.ns, chan.request, rt.link_msg(step.ifname, master=master), rt.RTM_NEWLINK)
        if not step.learning:
            port = self._index(chan, step.ns, step.ifname, desc)
            self._netlink(desc, step.ns, chan.request, rt.brport_learning_msg(port, False), rt.RTM_NEWLINK)

    def _set_up(self, step: SetUp) -> None:
        desc = f"bring up link {step.ifname!r}"
        rt = _rt()
        chan = self._chan(step.ns, desc)
        self._netlink(desc, step.ns, chan.request, rt.link_msg(step.ifname, up=True), rt.RTM_NEWLINK)

    def _delete_link(self, step: DeleteLink) -> None:
        desc = f"delete link {step.name!r}"
        self._forget(step.ns, step.name)
        self._ifindex.clear()   # a veth's peer goes with it, wherever it is
        if gone(step.ns, desc):
            return  # deletes are idempotent, in a namespace that is gone too
        rt = _rt()
        chan = self._chan(step.ns, desc)
        try:
            self._netlink(desc, step.ns, chan.request, rt.link_msg(step.name), rt.RTM_DELLINK)
        except BackendError as exc:
            if exc.errno != errno.ENODEV:
                raise

    # -- addresses and routes ---------------------------------------------------------------------------------------
    def _add_address(self, step: AddAddress) -> None:
        desc = f"add address {step.cidr} to link {step.ifname!r}"
        rt = _rt()
        chan = self._chan(step.ns, desc)
        try:
            iface = ipaddress.IPv4Interface(step.cidr)
        except ValueError as exc:
            raise fail(f"{desc} ({exc})", step.ns, errno.EINVAL) from exc
        index = self._index(chan, step.ns, step.ifname, desc)
        ip = str(iface.ip)
        msg = rt.ifaddrmsg()
        msg["family"], msg["prefixlen"], msg["index"] = socket.AF_INET, iface.network.prefixlen, index
        msg["attrs"] = [("IFA_ADDRESS", ip), ("IFA_LOCAL", ip)]
        self._netlink(desc, step.ns, chan.request, msg, rt.RTM_NEWADDR, rt.CREATE)

    def _add_route(self, step: AddRoute) -> None:
        desc = f"add route {step.dst}" + (f" via {step.gateway}" if step.gateway else "") + \
            (f" dev {step.ifname}" if step.ifname else "")
        rt = _rt()
        chan = self._chan(step.ns, desc)
        dst = _route_dst(desc, step.ns, step.dst)
        gateway = _ipv4(desc, step.ns, step.gateway) if step.gateway is not None else None
        oif = self._index(chan, step.ns, step.ifname, desc) if step.ifname is not None else None
        msg = rt.route_msg(dst, proto=_RTPROT_STATIC, rtype=_RTN_UNICAST, gateway=gateway, oif=oif)
        self._netlink(desc, step.ns, chan.request, msg, rt.RTM_NEWROUTE, rt.CREATE)

    def _delete_route(self, step: DeleteRoute) -> None:
        """Delete the non-kernel main-table routes to ``dst`` (as the snapshot lists them); idempotent."""
        desc = f"delete route {step.dst}"
        dst = _route_dst(desc, step.ns, step.dst)
        if gone(step.ns, desc):
            return
        rt = _rt()
        chan = self._chan(step.ns, desc)
        addr, _, length = dst.partition("/")
        for r in self._dump_routes(chan, step.ns, desc):
            if is_step_route(r) and r["dst_len"] == int(length) and (r.get_attr("RTA_DST") or "0.0.0.0") == addr:
                msg = rt.route_msg(dst, proto=r["proto"], rtype=0, table_attr=True, gateway=r.get_attr("RTA_GATEWAY"),
                                   oif=r.get_attr("RTA_OIF"))
                try:
                    self._netlink(desc, step.ns, chan.request, msg, rt.RTM_DELROUTE)
                except BackendError as exc:
                    if exc.errno != errno.ESRCH:
                        raise

    # -- FDB and neighbour entries ----------------------------------------------------------------------------------
    def _add_fdb(self, step: AddFdb) -> None:
        verb = "append" if step.append else "add"
        desc = f"{verb} fdb entry {step.mac} dst {step.dst} on link {step.ifname!r}"
        mac, dst = _mac(desc, step.ns, step.mac), _ipv4(desc, step.ns, step.dst)
        rt = _rt()
        chan = self._chan(step.ns, desc)
        index = self._index(chan, step.ns, step.ifname, desc)
        if step.append and (mac, dst) in self._fdb_entries(chan, step.ns, step.ifname, index, desc):
            raise fail(desc, step.ns, errno.EEXIST)  # the kernel takes a duplicate append silently
        self._netlink(desc, step.ns, chan.request, rt.fdb_msg(index, mac, dst), rt.RTM_NEWNEIGH,
                      rt.APPEND if step.append else rt.CREATE)
        self._fdb.get((step.ns, step.ifname), set()).add((mac, dst))

    def _delete_fdb(self, step: DeleteFdb) -> None:
        desc = f"delete fdb entry {step.mac} dst {step.dst} on link {step.ifname!r}"
        mac, dst = _mac(desc, step.ns, step.mac), _ipv4(desc, step.ns, step.dst)
        if gone(step.ns, desc):
            return
        rt = _rt()
        chan = self._chan(step.ns, desc)
        try:   # a vxlan entry is matched by mac and dst: another dst of that mac is left alone (and succeeds)
            index = self._index(chan, step.ns, step.ifname, desc)
            self._netlink(desc, step.ns, chan.request, rt.fdb_msg(index, mac, dst), rt.RTM_DELNEIGH)
        except BackendError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENODEV):
                raise
        self._fdb.get((step.ns, step.ifname), set()).discard((mac, dst))

    def _add_neigh(self, step: AddNeigh) -> None:
        desc = f"add neighbour {step.ip} lladdr {step.mac} on link {step.ifname!r}"
        mac, ip = _mac(desc, step.ns, step.mac), _ipv4(desc, step.ns, step.ip)
        rt = _rt()
        chan = self._chan(step.ns, desc)
        index = self._index(chan, step.ns, step.ifname, desc)
        self._netlink(desc, step.ns, chan.request, rt.neigh_msg(index, ip, mac), rt.RTM_NEWNEIGH, rt.CREATE)

    def _delete_neigh(self, step: DeleteNeigh) -> None:
        desc = f"delete neighbour {step.ip} on link {step.ifname!r}"
        ip = _ipv4(desc, step.ns, step.ip)
        if gone(step.ns, desc):
            return
        rt = _rt()
        chan = self._chan(step.ns, desc)
        try:
            index = self._index(chan, step.ns, step.ifname, desc)
            self._netlink(desc, step.ns, chan.request, rt.neigh_msg(index, ip), rt.RTM_DELNEIGH)
        except BackendError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENODEV):
                raise

    # -- read back --------------------------------------------------------------------------------------------------
    def _dump_links(self, chan: Any, ns: str, desc: str) -> list[Any]:
        rt = _rt()
        return list(self._netlink(desc, ns, chan.dump, rt.ifinfmsg(), rt.RTM_GETLINK))

    def _dump_addresses(self, chan: Any, ns: str, desc: str) -> list[Any]:
        """IPv4 addresses."""
        rt = _rt()
        msg = rt.ifaddrmsg()
        msg["family"] = socket.AF_INET
        return list(self._netlink(desc, ns, chan.dump, msg, rt.RTM_GETADDR))

    def _dump_routes(self, chan: Any, ns: str, desc: str) -> list[Any]:
        """IPv4 routes, all tables (``is_step_route`` picks the main table's)."""
        rt = _rt()
        msg = rt.rtmsg()
        msg["family"], msg["table"] = socket.AF_INET, _RT_TABLE_MAIN
        return list(self._netlink(desc, ns, chan.dump, msg, rt.RTM_GETROUTE))

    def _dump_neighbours(self, chan: Any, ns: str, desc: str, family: int) -> list[Any]:
        """Neighbour entries of ``family`` (``AF_BRIDGE``: the FDB)."""
        rt = _rt()
        msg = rt.ndmsg()
        msg["family"] = family
        return list(self._netlink(desc, ns, chan.dump, msg, rt.RTM_GETNEIGH))

    def _fdb_entries(self, chan: Any, ns: str, ifname: str, index: int, desc: str) -> set[tuple[str, str]]:
        """``(mac, dst)`` of the step-made entries on link ``ifname``: dumped once per ``apply``, then kept up to
        date by ``AddFdb``/``DeleteFdb`` (like ifindexes, this assumes nobody else changes them meanwhile)."""
        key = (ns, ifname)
        if key not in self._fdb:
            self._fdb[key] = {(mac, dst) for i, mac, dst in self._fdb_dump(chan, ns, desc) if i == index}
        return self._fdb[key]

    def _fdb_dump(self, chan: Any, ns: str, desc: str) -> list[tuple[int, str, str]]:
        """``(ifindex, mac, dst)`` of the permanent FDB entries with a ``dst`` (what ``AddFdb`` makes) in ``ns``.

        The kernel's own entries (a port's MAC, multicast MACs, what a bridge or a
        learning vxlan learnt) have no ``dst`` or are not permanent.
        """
        out = []
        for n in self._dump_neighbours(chan, ns, desc, _AF_BRIDGE):
            dst, mac = n.get_attr("NDA_DST"), n.get_attr("NDA_LLADDR")
            if n["family"] == _AF_BRIDGE and n["state"] & _NUD_PERMANENT and dst and mac:
                out.append((int(n["ifindex"]), str(mac).lower(), str(dst)))
        return out

    def _read_fdb(self, chan: Any, ns: str, names: dict[int, str], vxlans: set[int]) -> set[tuple[str, str, str]]:
        """The snapshot's ``fdb``: permanent entries with a ``dst`` on the vxlan devices ``vxlans`` of ``ns``."""
        if not vxlans:
            return set()
        return {(names[i], mac, dst) for i, mac, dst in self._fdb_dump(chan, ns, "snapshot") if i in vxlans}

    def _read_neighbours(self, chan: Any, ns: str, names: dict[int, str]) -> set[tuple[str, str, str]]:
        """The snapshot's ``neighbours``: ``NUD_PERMANENT`` IPv4 entries as ``(ifname, ip, mac)``."""
        out = set()
        for n in self._dump_neighbours(chan, ns, "snapshot", socket.AF_INET):
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
