"""What each kernel link is tied to (:attr:`~netlab.backends.LinkState.link`), from the kernel's own answers.

A link message names the other end only by numbers local to the namespace it was
read in: ``IFLA_LINK`` (a veth's peer, a macvlan's parent) or ``IFLA_VXLAN_LINK``
(a vxlan's underlay device) is an ifindex in the *link namespace*, and
``IFLA_LINK_NETNSID`` is that namespace's id as the reading namespace knows it
(absent: the same namespace). For a vxlan the link namespace is the one that holds
its UDP socket, which stays in the namespace it was created from when the device
is placed elsewhere (the kernel reports it, ``vxlan_get_link_net``).

Turning ``(namespace A, nsid N)`` into a name means asking the kernel, in A,
which id A gives a candidate namespace B (``RTM_GETNSID`` with ``NETNSA_FD``
of ``/run/netns/B``): B is the one when the answer is N. Each answer is
remembered (``(A, answer) -> B`` for any answer), and candidates are tried in an
order that finds the right one first in practice, so a snapshot of a lab with
hundreds of namespaces does not ask one question per pair of them:

1. veth ends are paired by crossed ifindexes (``X.ifindex == Y.IFLA_LINK`` and
   ``Y.ifindex == X.IFLA_LINK``, both with a link namespace), then one question
   confirms the pair (ifindexes are per namespace, so several candidates may
   share the numbers); a confirmed pair settles both ends;
2. otherwise the other link is read through the nsid (``RTM_GETLINK`` with
   ``IFLA_TARGET_NETNSID``): its ifindex, name and MAC pick the snapshotted
   namespaces holding the same link, and one question confirms;
3. otherwise the namespaces earlier scans found come first (many links hang on
   the same few: a host's uplink, a bridge's namespace), then every snapshotted
   namespace, then the others in ``/run/netns``, those whose names start most like
   the asking namespace's (the same lab's) first.

A namespace found nowhere (it has no name, or is the machine's own, which is
never a candidate) is :data:`~netlab.backends.UNNAMED_NAMESPACE`; the link's
name is then the one read through the nsid, or None. Everything here runs on the
netlink worker thread, through the channels of the snapshotted namespaces only:
no socket is opened and no namespace is entered.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from netlab.backends import UNNAMED_NAMESPACE
from netlab.backends import netns as _netns

__all__ = ["Tie", "TieFacts", "TieResolver", "tie_facts"]

#: ``LinkState.link``: (namespace, link name or None)
Tie = tuple[str, str | None]
_TIED_KINDS = ("veth", "macvlan", "vxlan")


@dataclass(frozen=True, slots=True)
class TieFacts:
    """What one link message says about the link it is tied to."""

    ns: str
    name: str
    kind: str
    ifindex: int
    other: int | None   # ifindex of the other link in the link namespace (None: none given)
    nsid: int | None    # the link namespace's id as ``ns`` knows it; None: ``ns`` itself; -1: the kernel gave none


def tie_facts(ns: str, name: str, kind: str, msg: Any) -> TieFacts | None:
    """The :class:`TieFacts` of link message ``msg`` (read in ``ns``), or None for a kind tied to nothing."""
    if kind not in _TIED_KINDS:
        return None
    if kind == "vxlan":
        data = msg.get_nested("IFLA_LINKINFO", "IFLA_INFO_DATA")
        other = data.get_attr("IFLA_VXLAN_LINK") if data is not None else None
    else:
        other = msg.get_attr("IFLA_LINK")
    nsid = msg.get_attr("IFLA_LINK_NETNSID")
    return TieFacts(ns, name, kind, int(msg["index"]), int(other) if other else None,
                    None if nsid is None else int(nsid))


class TieResolver:
    """Resolves the ties of the links of one snapshot.

    ``channel(ns)`` is the netlink channel of snapshotted namespace ``ns``;
    ``links[ns]`` maps each ifindex there to ``(name, mac)``.
    """

    def __init__(self, channel: Callable[[str], Any], links: dict[str, dict[int, tuple[str, str | None]]]) -> None:
        self._channel = channel
        self._links = links
        self._nsids: dict[tuple[str, str], int | None] = {}     # (asker, namespace) -> id the asker gives it
        self._named: dict[tuple[str, int], str] = {}            # (asker, nsid) -> namespace name
        self._remote: dict[tuple[str, int, int], tuple[str, str | None] | None] = {}
        self._by_link: dict[tuple[int, str, str | None], list[str]] | None = None
        self._others: list[str] | None = None
        self._found: list[str] = []     # namespaces a scan found, latest first: tried first by the next scan
        self.questions = 0   # RTM_GETNSID requests sent (for tests and benchmarks)

    def resolve(self, facts: Iterable[TieFacts]) -> dict[tuple[str, str], Tie]:
        """``(ns, link name) -> tie`` for every fact."""
        ties: dict[tuple[str, str], Tie] = {}
        far: list[TieFacts] = []
        for f in facts:
            if f.nsid is None:
                ties[f.ns, f.name] = (f.ns, self._local_name(f.ns, f.other))
            elif f.nsid < 0:
                ties[f.ns, f.name] = (UNNAMED_NAMESPACE, None)
            else:
                far.append(f)
        self._pair_veths([f for f in far if f.kind == "veth"], ties)
        for f in far:
            if (f.ns, f.name) not in ties:
                ties[f.ns, f.name] = self._far_tie(f)
        return ties

    # -- the strategies ---------------------------------------------------------------------------------------------
    def _pair_veths(self, veths: list[TieFacts], ties: dict[tuple[str, str], Tie]) -> None:
        ends: dict[tuple[int, int | None], list[TieFacts]] = defaultdict(list)
        for f in veths:
            ends[f.ifindex, f.other].append(f)
        for f in veths:
            if (f.ns, f.name) in ties or f.other is None or f.nsid is None:
                continue
            for g in ends.get((f.other, f.ifindex), ()):
                if g.ns != f.ns and (g.ns, g.name) not in ties and self._nsid(f.ns, g.ns) == f.nsid:
                    ties[f.ns, f.name], ties[g.ns, g.name] = (g.ns, g.name), (f.ns, f.name)
                    if g.nsid is not None:
                        self._named[g.ns, g.nsid] = f.ns   # g's peer is f: g's link namespace is f's
                    break

    def _far_tie(self, f: TieFacts) -> Tie:
        assert f.nsid is not None
        ns = self._namespace(f.ns, f.nsid, f.other)
        if ns is not None and ns in self._links:
            return ns, self._local_name(ns, f.other)
        remote = self._remote_link(f.ns, f.nsid, f.other) if f.other is not None else None
        return (ns or UNNAMED_NAMESPACE), (remote[0] if remote else None)

    def _namespace(self, asker: str, nsid: int, index: int | None) -> str | None:
        """The name of the namespace ``asker`` calls ``nsid``, or None when no candidate is it."""
        known = self._named.get((asker, nsid))
        if known is not None:
            return known
        if index is not None:
            remote = self._remote_link(asker, nsid, index)
            if remote is not None:
                for ns in self._link_index().get((index, *remote), ()):
                    if self._nsid(asker, ns) == nsid:
                        return ns
        for ns in (*self._found, *self._links, *self._other_namespaces(asker)):
            if self._nsid(asker, ns) == nsid:
                if ns not in self._found:
                    self._found.insert(0, ns)
                return ns
        return None

    # -- kernel questions -------------------------------------------------------------------------------------------
    def _nsid(self, asker: str, ns: str) -> int | None:
        """The id ``asker`` gives namespace ``ns`` (None: none, or ``ns`` cannot be opened or is the machine's own)."""
        key = (asker, ns)
        if key in self._nsids:
            return self._nsids[key]
        self._nsids[key] = None
        if ns == asker:
            return None
        from pyroute2.netlink.exceptions import NetlinkError

        from netlab.backends import rtnl

        try:
            fd = os.open(_netns.namespace_path(ns), os.O_RDONLY | os.O_CLOEXEC)
        except (OSError, ValueError):
            return None   # gone meanwhile, or a name that cannot be one
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) == _netns.own_identity():
                return None
            self.questions += 1
            reply = self._channel(asker).request(rtnl.nsid_of_fd_msg(fd), rtnl.RTM_GETNSID)
        except NetlinkError:
            return None   # not a namespace (a placeholder file), or it went away
        finally:
            os.close(fd)
        nsid = reply[0].get_attr("NETNSA_NSID") if reply else None
        if nsid is None or nsid >= 1 << 31:   # -1: asker has no id for it
            return None
        self._nsids[key] = int(nsid)
        self._named.setdefault((asker, int(nsid)), ns)
        return int(nsid)

    def _remote_link(self, asker: str, nsid: int, index: int) -> tuple[str, str | None] | None:
        """``(name, mac)`` of link ``index`` in the namespace ``asker`` calls ``nsid``, read through the nsid."""
        key = (asker, nsid, index)
        if key not in self._remote:
            from pyroute2.netlink.exceptions import NetlinkError

            from netlab.backends import rtnl

            try:
                reply = self._channel(asker).request(rtnl.link_of_nsid_msg(nsid, index), rtnl.RTM_GETLINK)
            except NetlinkError:
                reply = []
            self._remote[key] = ((str(reply[0].get_attr("IFLA_IFNAME")), reply[0].get_attr("IFLA_ADDRESS"))
                                 if reply else None)
        return self._remote[key]

    # -- indexes ----------------------------------------------------------------------------------------------------
    def _local_name(self, ns: str, index: int | None) -> str | None:
        entry = self._links[ns].get(index) if index is not None else None
        return entry[0] if entry else None

    def _link_index(self) -> dict[tuple[int, str, str | None], list[str]]:
        """``(ifindex, name, mac) -> namespaces`` over the snapshot, built on first use."""
        if self._by_link is None:
            self._by_link = defaultdict(list)
            for ns, links in self._links.items():
                for index, (name, mac) in links.items():
                    self._by_link[index, name, mac].append(ns)
        return self._by_link

    def _other_namespaces(self, asker: str) -> list[str]:
        """The namespaces in ``/run/netns`` outside the snapshot, those whose names share the longest start with
        ``asker``'s first (the same lab's)."""
        if self._others is None:
            try:
                names = os.listdir(_netns.NETNS_RUN_DIR)
            except FileNotFoundError:
                names = []
            self._others = [ns for ns in names if ns not in self._links]
        return sorted(self._others, key=lambda ns: (-len(os.path.commonprefix([asker, ns])), ns))
