"""Synchronous rtnetlink requests on one socket, encoded and decoded by pyroute2's message classes.

pyroute2's ``IPRoute`` runs every request through its asyncio core and its
keyword-argument request filters, which costs about a millisecond of Python per
request. The kernel backend needs only a handful of request shapes, so it builds
pyroute2 messages (``ifinfmsg``, ``ifaddrmsg``, ``rtmsg``, ``ndmsg``) with their
fields and NLAs directly, lets pyroute2 encode them, sends the bytes with one
``send`` and reads the reply with blocking ``recv`` calls, decoded by pyroute2's
``MarshalRtnl``. One request at a time: a request is answered (ack or error)
before the next is sent, so "stop at the first failure" means what it says.

* :class:`Channel` wraps a socket opened inside a namespace. Like
  ``IPRoute(use_socket=...)`` it refuses to be used from any thread but the one
  that made it.
* Sequence numbers come from one process-wide counter, so a reply can only ever
  match the request that asked for it; anything else read from a socket (an
  answer to a request abandoned half-way) is skipped.
* A kernel error is raised as pyroute2's ``NetlinkError`` with the kernel's errno.
"""

from __future__ import annotations

import itertools
import socket
import threading
from typing import Any

from pyroute2.netlink import (
    NLM_F_ACK,
    NLM_F_APPEND,
    NLM_F_CREATE,
    NLM_F_DUMP,
    NLM_F_ECHO,
    NLM_F_EXCL,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
)
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.marshal import MarshalRtnl
from pyroute2.netlink.rtnl.ndmsg import ndmsg
from pyroute2.netlink.rtnl.nsidmsg import nsidmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

__all__ = [
    "ACK", "APPEND", "CREATE", "Channel", "ECHO", "RTM_DELLINK", "RTM_DELNEIGH", "RTM_DELROUTE", "RTM_GETADDR",
    "RTM_GETLINK", "RTM_GETNEIGH", "RTM_GETNSID", "RTM_GETROUTE", "RTM_NEWADDR", "RTM_NEWLINK", "RTM_NEWNEIGH",
    "RTM_NEWROUTE", "brport_learning_msg", "fdb_msg", "ifaddrmsg", "ifinfmsg", "link_attrs", "link_msg",
    "link_of_nsid_msg", "ndmsg", "neigh_msg", "nsid_of_fd_msg", "route_msg", "rtmsg",
]

RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_GETADDR = 20, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH = 28, 29, 30
RTM_GETNSID = 90

#: request flags: a plain request (set, delete, get), a create that fails with EEXIST, an FDB append
ACK = NLM_F_REQUEST | NLM_F_ACK
CREATE = ACK | NLM_F_CREATE | NLM_F_EXCL
APPEND = ACK | NLM_F_CREATE | NLM_F_APPEND
#: add to a create: the kernel sends the new object back (before the ack) to the asking socket
ECHO = NLM_F_ECHO
_DUMP = NLM_F_REQUEST | NLM_F_DUMP

_RECV_SIZE = 1 << 16     # the kernel caps a dump datagram at 32 KiB
_SEQ = itertools.count(1)


def _next_seq() -> int:
    return next(_SEQ) % 0xFFFFFFFF + 1   # 1 .. 2**32-1


class Channel:
    """Requests on one rtnetlink socket opened inside a namespace; ``ident`` is that namespace's (dev, inode).

    The caller owns the socket (closes it); the channel only reads and writes it,
    and only from the thread that created the channel.
    """

    __slots__ = ("ident", "sock", "_marshal", "_owner")

    def __init__(self, sock: socket.socket, ident: tuple[int, int]) -> None:
        self.sock = sock
        self.ident = ident
        self._owner = threading.get_ident()
        self._marshal = MarshalRtnl()

    def request(self, msg: Any, msg_type: int, flags: int = ACK) -> list[Any]:
        """Send ``msg`` as one request (``flags`` must ask for an ack); the messages answered before the ack
        (a ``get`` reply, an echo). Raises ``NetlinkError`` with the kernel's errno."""
        return self._exchange(msg, msg_type, flags)

    def dump(self, msg: Any, msg_type: int) -> list[Any]:
        """A dump request (``msg`` carries the family and so on); every message up to ``NLMSG_DONE``."""
        return self._exchange(msg, msg_type, _DUMP)

    def _exchange(self, msg: Any, msg_type: int, flags: int) -> list[Any]:
        if threading.get_ident() != self._owner:
            raise RuntimeError("a netlink channel is used from a thread other than the one that made it")
        seq = _next_seq()
        header = msg["header"]
        header["type"] = msg_type
        header["flags"] = flags
        header["sequence_number"] = seq
        header["pid"] = 0
        msg.encode()
        self.sock.send(msg.data)
        out: list[Any] = []
        while True:
            data = self.sock.recv(_RECV_SIZE)
            for reply in self._marshal.parse(data):
                head = reply["header"]
                if head.get("sequence_number") != seq:
                    continue   # left over from a request abandoned earlier
                error = head.get("error")
                if error is not None:   # the kernel's NetlinkError, or pyroute2 could not decode the reply
                    raise error
                if head["type"] in (NLMSG_ERROR, NLMSG_DONE):   # the ack (error 0), or the end of a dump
                    return out
                out.append(reply)


# -- request messages -----------------------------------------------------------------------------------------------
_IFF_UP = 0x1
_RT_TABLE_MAIN = 254
_NUD_PERMANENT, _NUD_NOARP, _NTF_SELF = 0x80, 0x40, 0x02
_AF_BRIDGE = 7


def link_attrs(ifname: str, link: int | None = None, address: str | None = None, mtu: int | None = None,
               master: int | None = None, net_ns_fd: int | None = None) -> list[tuple[str, Any]]:
    """The NLAs of a link: name, then each of the others that is not None."""
    attrs: list[tuple[str, Any]] = [("IFLA_IFNAME", ifname)]
    for name, value in (("IFLA_LINK", link), ("IFLA_ADDRESS", address), ("IFLA_MTU", mtu), ("IFLA_MASTER", master),
                        ("IFLA_NET_NS_FD", net_ns_fd)):
        if value is not None:
            attrs.append((name, value))
    return attrs


def link_msg(ifname: str, up: bool = False, kind: str | None = None, data: list[tuple[str, Any]] | None = None,
             **attrs: Any) -> Any:
    """An ``ifinfmsg`` naming link ``ifname`` (index 0: the kernel finds it by name); ``up`` sets ``IFF_UP``;
    ``kind`` and its ``IFLA_INFO_DATA`` NLAs ``data`` make ``IFLA_LINKINFO``; ``attrs`` as :func:`link_attrs`."""
    msg = ifinfmsg()
    if up:
        msg["flags"] = msg["change"] = _IFF_UP
    nlas = link_attrs(ifname, **attrs)
    if kind is not None:
        info: list[tuple[str, Any]] = [("IFLA_INFO_KIND", kind)]
        if data is not None:
            info.append(("IFLA_INFO_DATA", {"attrs": data}))
        nlas.append(("IFLA_LINKINFO", {"attrs": info}))
    msg["attrs"] = nlas
    return msg


def route_msg(dst: str, proto: int, rtype: int, table_attr: bool = False, gateway: str | None = None,
              oif: int | None = None) -> Any:
    """An IPv4 main-table ``rtmsg`` to ``dst`` (``a.b.c.d/len``; no ``RTA_DST`` for ``/0``); ``table_attr`` adds
    ``RTA_TABLE`` too, as pyroute2 does for a delete."""
    addr, _, length = dst.partition("/")
    msg = rtmsg()
    msg["family"], msg["dst_len"], msg["table"], msg["proto"], msg["type"] = (
        socket.AF_INET, int(length), _RT_TABLE_MAIN, proto, rtype)
    attrs: list[tuple[str, Any]] = []
    if int(length):
        attrs.append(("RTA_DST", addr))
    if table_attr:
        attrs.append(("RTA_TABLE", _RT_TABLE_MAIN))
    if gateway is not None:
        attrs.append(("RTA_GATEWAY", gateway))
    if oif is not None:
        attrs.append(("RTA_OIF", oif))
    msg["attrs"] = attrs
    return msg


def fdb_msg(ifindex: int, mac: str, dst: str) -> Any:
    """A permanent ``NTF_SELF`` bridge-family entry ``mac`` -> remote ``dst`` on link ``ifindex``."""
    msg = ndmsg()
    msg["family"], msg["ifindex"], msg["state"], msg["flags"] = (
        _AF_BRIDGE, ifindex, _NUD_PERMANENT | _NUD_NOARP, _NTF_SELF)
    msg["attrs"] = [("NDA_LLADDR", mac), ("NDA_DST", dst)]
    return msg


def neigh_msg(ifindex: int, ip: str, mac: str | None = None) -> Any:
    """A permanent IPv4 neighbour ``ip`` (``mac`` when adding) on link ``ifindex``."""
    msg = ndmsg()
    msg["family"], msg["ifindex"], msg["state"] = socket.AF_INET, ifindex, _NUD_PERMANENT
    msg["attrs"] = [("NDA_DST", ip)] + ([("NDA_LLADDR", mac)] if mac is not None else [])
    return msg


def brport_learning_msg(ifindex: int, learning: bool) -> Any:
    """An ``ifinfmsg`` setting a bridge port's learning flag through ``IFLA_INFO_SLAVE_DATA`` (as
    ``ip link set DEV type bridge_slave learning off``; send as RTM_NEWLINK on the existing link)."""
    msg = ifinfmsg()
    msg["index"] = ifindex
    msg["attrs"] = [("IFLA_LINKINFO", {"attrs": [
        ("IFLA_INFO_SLAVE_KIND", "bridge"),
        ("IFLA_INFO_SLAVE_DATA", {"attrs": [("IFLA_BRPORT_LEARNING", int(learning))]}),
    ]})]
    return msg


def nsid_of_fd_msg(fd: int) -> Any:
    """An ``RTM_GETNSID`` request for the id (``NETNSA_NSID``) that the asking socket's namespace gives the namespace
    open as ``fd``; the answer is -1 (``0xffffffff`` as pyroute2 decodes it) when it has given it none."""
    msg = nsidmsg()
    msg["attrs"] = [("NETNSA_FD", fd)]
    return msg


def link_of_nsid_msg(nsid: int, ifindex: int) -> Any:
    """An ``RTM_GETLINK`` request for link ``ifindex`` of the namespace the asking socket's namespace calls ``nsid``
    (``IFLA_TARGET_NETNSID``, which pyroute2 names ``IFLA_IF_NETNSID``): read without a socket in it."""
    msg = ifinfmsg()
    msg["index"] = ifindex
    msg["attrs"] = [("IFLA_IF_NETNSID", nsid)]
    return msg
