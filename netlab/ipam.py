"""IPAM: IPv4 pools, addresses and MACs, the way libnetwork's default IPAM does it.

Two layers live here:

* :class:`Ipam`, a stateful allocator with libnetwork's vocabulary (address
  spaces ``LocalDefault``/``GlobalDefault``, pool ids, sub-pools, refcounted
  pools, preferred addresses). The controller drives it one request at a time.
* :func:`plan_addresses` / :func:`allocate`, a pure function that addresses a
  whole :class:`~netlab.model.Topology` at once, deterministically: the same
  model always gets the same subnets, gateways, IPs and MACs, whatever order it
  was built in.

Default pools follow Docker: local-scope networks (bridge, macvlan) draw from
``172.17.0.0/16`` ... ``172.31.0.0/16`` then ``192.168.0.0/16`` cut into
``/20`` s (:data:`DEFAULT_LOCAL_POOLS`); global-scope networks (overlay) draw
``/24`` s from ``10.0.0.0/8`` (:data:`DEFAULT_GLOBAL_POOLS`, computed lazily).

Like classic libnetwork, the network and broadcast addresses of every pool are
reserved (also for ``/31`` and ``/32``, which therefore have no usable address),
dynamic allocation hands out the lowest free address, and a sub-pool
(``ip_range``) spans all its addresses except the pool's own network and
broadcast addresses.

>>> from netlab.model import Topology
>>> topo = Topology("demo")
>>> _ = topo.add_host("h1")
>>> _ = topo.add_network("front")
>>> _ = topo.add_sandbox("web", host="h1")
>>> _ = topo.connect("web", "front")
>>> plan = allocate(topo)
>>> str(plan.networks["front"].subnet), str(plan.networks["front"].gateway)
('172.17.0.0/16', '172.17.0.1')
>>> plan.address_of("web", "front")
EndpointAddress(ip=IPv4Interface('172.17.0.2/16'), mac='02:42:ac:11:00:02')
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import overload

from netlab.drivers import DriverInfo, known_drivers
from netlab.errors import (
    ConflictError,
    InvalidRequestError,
    NetlabError,
    NotFoundError,
    Problem,
    UnavailableError,
    ValidationError,
)
from netlab.model import Endpoint, Network, Topology

__all__ = [
    "DEFAULT_GLOBAL_POOLS",
    "DEFAULT_LOCAL_POOLS",
    "GLOBAL_ADDRESS_SPACE",
    "LOCAL_ADDRESS_SPACE",
    "Addressing",
    "EndpointAddress",
    "Ipam",
    "NetworkAddress",
    "PoolSequence",
    "allocate",
    "mac_from_ip",
    "plan_addresses",
]

logger = logging.getLogger(__name__)

#: libnetwork's address space for local-scope networks
LOCAL_ADDRESS_SPACE = "LocalDefault"
#: libnetwork's address space for global-scope (multi-host) networks
GLOBAL_ADDRESS_SPACE = "GlobalDefault"

_SPACES: dict[str, str] = {"local": LOCAL_ADDRESS_SPACE, "global": GLOBAL_ADDRESS_SPACE}

_NO_POOL_MESSAGE = "could not find an available, non-overlapping IPv4 address pool among the defaults"


# -- parsing helpers -----------------------------------------------------------
def _parse_network(text: object) -> IPv4Network | None:
    """``IPv4Network`` for a strict CIDR string (``a.b.c.d/len``, no host bits), else None."""
    if not isinstance(text, str):
        return None
    _, sep, prefix = text.partition("/")
    if not sep or not prefix.isdecimal() or not prefix.isascii():
        return None
    try:
        return IPv4Network(text)
    except ValueError:
        return None


def _parse_address(text: object) -> IPv4Address | None:
    """``IPv4Address`` for a dotted-quad string (or an address object), else None."""
    if isinstance(text, IPv4Address):
        return text
    if isinstance(text, IPv4Interface):
        return text.ip
    if not isinstance(text, str):
        return None
    try:
        return IPv4Address(text)
    except ValueError:
        return None


def _parse_address_or_cidr(text: object) -> IPv4Address | None:
    """Like :func:`_parse_address`, also accepting ``"10.0.0.5/24"``."""
    address = _parse_address(text)
    if address is None and isinstance(text, str):
        try:
            address = IPv4Interface(text).ip
        except ValueError:
            return None
    return address


def _span(net: IPv4Network) -> tuple[int, int]:
    return int(net.network_address), int(net.broadcast_address)


# -- default pools -------------------------------------------------------------
class PoolSequence(Sequence[IPv4Network]):
    """An ordered, lazily computed sequence of equal-sized blocks cut from supernets.

    ``PoolSequence([("10.0.0.0/8", 24)])`` is the 65,536 ``/24`` s of ``10/8`` in
    address order, without building them: indexing, ``len``, ``in`` and
    :meth:`first_free` are arithmetic.

    Parameters
    ----------
    spans : iterable of (str, int)
        ``(supernet, prefix_length)`` pairs, in the order blocks are offered.

    Examples
    --------
    >>> pools = PoolSequence([("10.0.0.0/8", 24)])
    >>> len(pools), pools[0], pools[-1]
    (65536, IPv4Network('10.0.0.0/24'), IPv4Network('10.255.255.0/24'))
    """

    __slots__ = ("_spans", "_offsets", "_len")

    def __init__(self, spans: Iterable[tuple[str, int]]) -> None:
        parsed: list[tuple[IPv4Network, int]] = []
        offsets: list[int] = []
        total = 0
        for supernet, prefix in spans:
            net = IPv4Network(supernet)
            if not net.prefixlen <= prefix <= 32:
                raise InvalidRequestError(f"cannot cut /{prefix} blocks out of {net}")
            parsed.append((net, prefix))
            offsets.append(total)
            total += 1 << (prefix - net.prefixlen)
        self._spans = tuple(parsed)
        self._offsets = tuple(offsets)
        self._len = total

    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, index: int) -> IPv4Network: ...

    @overload
    def __getitem__(self, index: slice) -> list[IPv4Network]: ...

    def __getitem__(self, index: int | slice) -> IPv4Network | list[IPv4Network]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._len))]
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError(f"pool index {index} out of range (0-{self._len - 1})")
        which = bisect_right(self._offsets, index) - 1
        net, prefix = self._spans[which]
        start = int(net.network_address) + ((index - self._offsets[which]) << (32 - prefix))
        return IPv4Network((start, prefix))

    def __iter__(self) -> Iterator[IPv4Network]:
        for net, prefix in self._spans:
            yield from net.subnets(new_prefix=prefix)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, IPv4Network):
            return False
        return any(value.prefixlen == prefix and value.subnet_of(net) for net, prefix in self._spans)

    def __repr__(self) -> str:
        spans = ", ".join(f"{net}/{prefix}" for net, prefix in self._spans)
        return f"<PoolSequence of {self._len} blocks: {spans}>"

    def first_free(self, avoid: Iterable[IPv4Network] = ()) -> IPv4Network | None:
        """The first block (in sequence order) overlapping nothing in ``avoid``.

        Runs in O(m log m) for m networks to avoid: overlapped stretches are
        jumped over, never enumerated.

        Parameters
        ----------
        avoid : iterable of IPv4Network
            Networks the block must not overlap.

        Returns
        -------
        IPv4Network or None
            The block, or ``None`` when every block overlaps something.

        Examples
        --------
        >>> from ipaddress import IPv4Network as N
        >>> DEFAULT_GLOBAL_POOLS.first_free([N("10.0.0.0/16"), N("10.1.0.0/24")])
        IPv4Network('10.1.1.0/24')
        """
        merged: list[list[int]] = []
        for lo, hi in sorted(_span(net) for net in avoid):
            if merged and lo <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        starts = [lo for lo, _ in merged]
        for net, prefix in self._spans:
            size = 1 << (32 - prefix)
            base, top = _span(net)
            cand = base
            while cand + size - 1 <= top:
                i = bisect_right(starts, cand + size - 1) - 1
                if i >= 0 and merged[i][1] >= cand:
                    past = merged[i][1] + 1 - base
                    cand = base + -(-past // size) * size
                    continue
                return IPv4Network((cand, prefix))
        return None


#: Docker's default local-scope pools (bridge, macvlan): 31 blocks, in order.
DEFAULT_LOCAL_POOLS = PoolSequence(
    [
        ("172.17.0.0/16", 16),
        ("172.18.0.0/16", 16),
        ("172.19.0.0/16", 16),
        ("172.20.0.0/14", 16),
        ("172.24.0.0/14", 16),
        ("172.28.0.0/14", 16),
        ("192.168.0.0/16", 20),
    ]
)

#: Docker's default global-scope pools (overlay): the /24s of 10.0.0.0/8, lazily.
DEFAULT_GLOBAL_POOLS = PoolSequence([("10.0.0.0/8", 24)])

_DEFAULT_POOLS: dict[str, PoolSequence] = {"local": DEFAULT_LOCAL_POOLS, "global": DEFAULT_GLOBAL_POOLS}


def mac_from_ip(ip: str | IPv4Address | IPv4Interface) -> str:
    """Docker's ``GenerateMACFromIP``: ``02:42:`` followed by the four octets in hex.

    Parameters
    ----------
    ip : str, IPv4Address or IPv4Interface
        The endpoint's IPv4 address (a ``/len`` suffix is allowed).

    Returns
    -------
    str
        A locally administered unicast MAC, lowercase, colon separated.

    Raises
    ------
    InvalidRequestError
        If ``ip`` is not an IPv4 address.

    Examples
    --------
    >>> mac_from_ip("172.18.0.2")
    '02:42:ac:12:00:02'
    """
    address = _parse_address_or_cidr(ip)
    if address is None:
        raise InvalidRequestError(f"cannot derive a MAC address from {ip!r}: not an IPv4 address")
    return _mac(int(address))


def _mac(value: int) -> str:
    return f"02:42:{value >> 24:02x}:{value >> 16 & 255:02x}:{value >> 8 & 255:02x}:{value & 255:02x}"


# -- the stateful allocator ----------------------------------------------------
@dataclass(slots=True, eq=False)
class _Master:
    """A pool's address bitmap (a set of taken integers) and who references it."""

    space: str
    network: IPv4Network
    first: int  # lowest allocatable address (as int)
    last: int  # highest allocatable address
    taken: set[int] = field(default_factory=set)
    refs: int = 0
    pools: list[_Pool] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class _Pool:
    """One pool id: a master pool, optionally narrowed to a sub-pool range."""

    pool_id: str
    master: _Master
    sub: IPv4Network | None
    lo: int
    hi: int
    cursor: int  # every allocatable address in [lo, cursor) is taken
    refs: int = 0


class Ipam:
    """A libnetwork-like IPv4 address allocator (the ``default`` IPAM driver).

    Pools live in two address spaces, ``LocalDefault`` (scope ``"local"``) and
    ``GlobalDefault`` (scope ``"global"``); pools of one space never overlap.
    A pool is identified by an id such as ``"LocalDefault/172.18.0.0/16"`` or,
    with a sub-pool, ``"LocalDefault/10.0.0.0/24/10.0.0.128/25"``; all ids of one
    subnet share its addresses. Pools are refcounted: an identical request
    returns the same id and each :meth:`release_pool` undoes one request.

    Examples
    --------
    >>> ipam = Ipam()
    >>> pool = ipam.request_pool()
    >>> pool
    'LocalDefault/172.17.0.0/16'
    >>> ipam.request_address(pool)
    IPv4Interface('172.17.0.1/16')
    >>> ipam.request_address(pool, "172.17.0.9")
    IPv4Interface('172.17.0.9/16')
    >>> ipam.request_pool(scope="global")
    'GlobalDefault/10.0.0.0/24'
    """

    def __init__(self) -> None:
        self._masters: dict[tuple[str, IPv4Network], _Master] = {}
        self._pools: dict[str, _Pool] = {}

    # -- pools ------------------------------------------------------------------
    def request_pool(
        self,
        pool: str | None = None,
        sub_pool: str | None = None,
        *,
        scope: str = "local",
        avoid: Iterable[IPv4Network] = (),
    ) -> str:
        """Reserve an address pool and return its id.

        Parameters
        ----------
        pool : str or None
            The subnet in CIDR form (no host bits). ``None`` picks the first
            default pool of ``scope`` overlapping neither a pool already held in
            the same address space nor anything in ``avoid``.
        sub_pool : str or None
            A CIDR inside ``pool`` that dynamic addresses come from (Docker's
            ``--ip-range``). Requires ``pool``.
        scope : {"local", "global"}
            Selects the address space and the default pools.
        avoid : iterable of IPv4Network
            Extra networks a *default* pool must not overlap (e.g. the underlay
            or other networks on the same host). Ignored for explicit pools.

        Returns
        -------
        str
            The pool id, e.g. ``"LocalDefault/172.17.0.0/16"``.

        Raises
        ------
        InvalidRequestError
            Unknown scope; malformed pool or sub-pool; sub-pool without pool or
            not inside it.
        ConflictError
            An explicit pool overlaps a different pool of the same address space
            (libnetwork's ``ErrPoolOverlap``).
        UnavailableError
            No default pool is free.
        """
        space = _SPACES.get(scope)
        if space is None:
            raise InvalidRequestError(f"unknown scope {scope!r} for an address pool; use 'local' or 'global'")
        if pool is None:
            if sub_pool is not None:
                raise InvalidRequestError(
                    f"sub-pool {sub_pool!r} requested without a pool: an ip_range needs an explicit subnet"
                )
            held = [net for (sp, net) in self._masters if sp == space]
            chosen = _DEFAULT_POOLS[scope].first_free([*held, *avoid])
            if chosen is None:
                raise UnavailableError(f"{_NO_POOL_MESSAGE} (address space {space})")
            return self._add_pool(space, chosen, None)
        network = _parse_network(pool)
        if network is None:
            raise InvalidRequestError(f"invalid pool {pool!r}: not an IPv4 subnet in CIDR form without host bits")
        sub: IPv4Network | None = None
        if sub_pool is not None:
            sub = _parse_network(sub_pool)
            if sub is None:
                raise InvalidRequestError(
                    f"invalid sub-pool {sub_pool!r} of pool {network}: not an IPv4 subnet in CIDR form "
                    "without host bits"
                )
            if not sub.subnet_of(network):
                raise InvalidRequestError(f"sub-pool {sub} is not inside pool {network}")
        if (space, network) not in self._masters:
            for sp, other in self._masters:
                if sp == space and other.overlaps(network):
                    raise ConflictError(
                        f"pool {network} overlaps with other one on this address space: "
                        f"{other} is already in use in {space}"
                    )
        return self._add_pool(space, network, sub)

    def _add_pool(self, space: str, network: IPv4Network, sub: IPv4Network | None) -> str:
        pool_id = f"{space}/{network}" + (f"/{sub}" if sub is not None else "")
        entry = self._pools.get(pool_id)
        if entry is None:
            master = self._masters.get((space, network))
            if master is None:
                lo, hi = _span(network)
                master = _Master(space, network, lo + 1, hi - 1)
                self._masters[(space, network)] = master
                logger.debug("created pool %s in %s", network, space)
            lo, hi = master.first, master.last
            if sub is not None:
                sub_lo, sub_hi = _span(sub)
                lo, hi = max(lo, sub_lo), min(hi, sub_hi)
            entry = _Pool(pool_id, master, sub, lo, hi, lo)
            self._pools[pool_id] = entry
            master.pools.append(entry)
        entry.refs += 1
        entry.master.refs += 1
        return pool_id

    def release_pool(self, pool_id: str) -> None:
        """Undo one :meth:`request_pool`; the last release frees the pool and its addresses.

        Parameters
        ----------
        pool_id : str
            An id returned by :meth:`request_pool`.

        Raises
        ------
        NotFoundError
            If no such pool is held.
        """
        entry = self._lookup(pool_id)
        master = entry.master
        entry.refs -= 1
        master.refs -= 1
        if entry.refs == 0:
            del self._pools[pool_id]
            master.pools.remove(entry)
        if master.refs == 0:
            del self._masters[(master.space, master.network)]
            logger.debug("released pool %s in %s", master.network, master.space)

    def _lookup(self, pool_id: str) -> _Pool:
        entry = self._pools.get(pool_id)
        if entry is None:
            raise NotFoundError(f"cannot find address pool for pool id {pool_id!r}")
        return entry

    def subnet(self, pool_id: str) -> IPv4Network:
        """The subnet of a held pool (the master pool, not the sub-pool).

        Raises
        ------
        NotFoundError
            If no such pool is held.
        """
        return self._lookup(pool_id).master.network

    def available(self, pool_id: str) -> int:
        """How many addresses :meth:`request_address` can still hand out without a preference.

        Counts free addresses of the sub-pool when the id has one, else of the pool.

        Raises
        ------
        NotFoundError
            If no such pool is held.
        """
        entry = self._lookup(pool_id)
        if entry.hi < entry.lo:
            return 0
        taken = entry.master.taken
        if entry.sub is None:
            used = len(taken)
        else:
            used = sum(1 for value in taken if entry.lo <= value <= entry.hi)
        return entry.hi - entry.lo + 1 - used

    # -- addresses --------------------------------------------------------------
    def request_address(self, pool_id: str, preferred: str | IPv4Address | None = None) -> IPv4Interface:
        """Allocate an address from a pool.

        Parameters
        ----------
        pool_id : str
            An id returned by :meth:`request_pool`.
        preferred : str, IPv4Address or None
            The address wanted (a static IP or an explicit gateway). It must lie
            in the pool's subnet (not necessarily in its sub-pool). Without it,
            the lowest free address of the sub-pool (or of the pool) is taken.

        Returns
        -------
        IPv4Interface
            The address with the pool's prefix length, e.g. ``172.17.0.2/16``.

        Raises
        ------
        NotFoundError
            Unknown pool id.
        InvalidRequestError
            ``preferred`` is not an IPv4 address, is outside the pool, or is its
            network or broadcast address.
        ConflictError
            ``preferred`` is already allocated (``ErrIPAlreadyAllocated``).
        UnavailableError
            The pool (or sub-pool) has no free address left.
        """
        entry = self._lookup(pool_id)
        master = entry.master
        if preferred is not None:
            address = _parse_address(preferred)
            if address is None:
                raise InvalidRequestError(f"Invalid address {preferred!r}: not an IPv4 address")
            value = int(address)
            if address not in master.network:
                raise InvalidRequestError(
                    f"Invalid address {address}: It does not belong to any of this network's subnets "
                    f"(pool {master.network})"
                )
            if not master.first <= value <= master.last:
                which = "network" if value < master.first else "broadcast"
                raise InvalidRequestError(
                    f"Invalid address {address}: it is the {which} address of pool {master.network}"
                )
            if value in master.taken:
                raise ConflictError(f"Address already in use: {address} is already allocated in pool {pool_id}")
            master.taken.add(value)
            return IPv4Interface((value, master.network.prefixlen))
        value = entry.cursor
        taken, hi = master.taken, entry.hi
        while value <= hi and value in taken:
            value += 1
        if value > hi:
            entry.cursor = value
            where = f"sub-pool {entry.sub} of pool {master.network}" if entry.sub else f"pool {master.network}"
            raise UnavailableError(f"no available addresses on this pool: {where} ({pool_id}) is exhausted")
        taken.add(value)
        entry.cursor = value + 1
        return IPv4Interface((value, master.network.prefixlen))

    def release_address(self, pool_id: str, ip: str | IPv4Address | IPv4Interface) -> None:
        """Give an address back to its pool so it can be handed out again.

        Parameters
        ----------
        pool_id : str
            The id the address was requested from (any id of the same subnet works).
        ip : str, IPv4Address or IPv4Interface
            The address (a ``/len`` suffix is allowed).

        Raises
        ------
        NotFoundError
            Unknown pool id, or the address is not allocated.
        InvalidRequestError
            ``ip`` is not an IPv4 address or lies outside the pool.
        """
        entry = self._lookup(pool_id)
        master = entry.master
        address = _parse_address_or_cidr(ip)
        if address is None:
            raise InvalidRequestError(f"Invalid address {ip!r}: not an IPv4 address")
        if address not in master.network:
            raise InvalidRequestError(
                f"Invalid address {address}: It does not belong to any of this network's subnets "
                f"(pool {master.network})"
            )
        value = int(address)
        if value not in master.taken:
            raise NotFoundError(f"address {address} is not allocated in pool {pool_id}")
        master.taken.remove(value)
        for pool in master.pools:
            if pool.lo <= value < pool.cursor:
                pool.cursor = value


# -- whole-topology planning ---------------------------------------------------
@dataclass(frozen=True, slots=True)
class NetworkAddress:
    """A network's IPv4 configuration: subnet, gateway and optional sub-range."""

    subnet: IPv4Network
    gateway: IPv4Address
    ip_range: IPv4Network | None = None


@dataclass(frozen=True, slots=True)
class EndpointAddress:
    """An endpoint's address (with the subnet's prefix length) and MAC."""

    ip: IPv4Interface
    mac: str


@dataclass(frozen=True)
class Addressing:
    """The addresses :func:`plan_addresses` gave a topology.

    Attributes
    ----------
    networks : dict of str to NetworkAddress
        By network name; only networks whose driver uses IPAM and that could be
        addressed.
    endpoints : dict of (str, str) to EndpointAddress
        By ``(sandbox, network)``; every key's network is in ``networks``.
    """

    networks: dict[str, NetworkAddress] = field(default_factory=dict)
    endpoints: dict[tuple[str, str], EndpointAddress] = field(default_factory=dict)

    def address_of(self, sandbox: str, network: str) -> EndpointAddress:
        """The address of ``sandbox``'s endpoint on ``network``.

        Raises
        ------
        NotFoundError
            If that endpoint got no address (not connected, no IPAM, or skipped).
        """
        found = self.endpoints.get((sandbox, network))
        if found is None:
            raise NotFoundError(f"no address planned for sandbox {sandbox!r} on network {network!r}")
        return found

    def to_dict(self) -> dict[str, object]:
        """A JSON-safe form, sorted by name.

        ``{"networks": {net: {"subnet", "gateway", "ip_range"}},
        "endpoints": {sandbox: {net: {"ip": "a.b.c.d/len", "mac"}}}}``.
        """
        networks: dict[str, object] = {
            name: {
                "subnet": str(net.subnet),
                "gateway": str(net.gateway),
                "ip_range": None if net.ip_range is None else str(net.ip_range),
            }
            for name, net in sorted(self.networks.items())
        }
        endpoints: dict[str, dict[str, object]] = {}
        for (sandbox, network), ep in sorted(self.endpoints.items()):
            endpoints.setdefault(sandbox, {})[network] = {"ip": str(ep.ip), "mac": ep.mac}
        return {"networks": networks, "endpoints": endpoints}


def _uses_ipam(network: Network, drivers: Mapping[str, DriverInfo]) -> bool:
    info = drivers.get(network.driver)
    return True if info is None else info.uses_ipam


def _hosts_by_network(
    topo: Topology, networks: Iterable[Network], endpoints: Mapping[str, list[Endpoint]]
) -> dict[str, frozenset[str]]:
    """``topo.network_hosts`` for many networks at once, in O(sandboxes + endpoints)."""
    hosts = [host.name for host in topo.hosts]
    only = hosts[0] if len(hosts) == 1 else None
    placed = {sbx.name: sbx.host if sbx.host is not None else only for sbx in topo.sandboxes}
    result: dict[str, frozenset[str]] = {}
    for net in networks:
        if net.scope == "local" and net.host is not None:
            result[net.name] = frozenset((net.host,))
        elif net.scope == "local" and only is not None:
            result[net.name] = frozenset((only,))
        else:
            found = (placed.get(ep.sandbox) for ep in endpoints[net.name])
            result[net.name] = frozenset(host for host in found if host is not None)
    return result


def _shares_scope(net: Network, other: Network, hosts: Mapping[str, frozenset[str]]) -> bool:
    """Whether an automatic subnet for ``net`` must avoid ``other``'s subnet.

    A network present on no host could meet anything, so it avoids, and is
    avoided by, every other network.
    """
    mine, theirs = hosts[net.name], hosts[other.name]
    if not mine or not theirs:
        return True
    if net.scope == "global" and other.scope == "global":
        return True
    return not mine.isdisjoint(theirs)


def _mac_for(ep: Endpoint, iface: IPv4Interface) -> str:
    """The endpoint's own MAC when it gives one, else Docker's derivation from its IP."""
    return ep.mac if isinstance(ep.mac, str) and ep.mac else _mac(int(iface))


def _exhausted(name: str, needed: int, available: int, where: str) -> Problem:
    return Problem(
        f"networks.{name}",
        "pool-exhausted",
        f"network {name!r} needs {needed} address(es) from {where} but only {available} are available",
        "use a bigger subnet or ip_range, or connect fewer endpoints without a static ip",
    )


def _address_network(
    net: Network,
    subnet: IPv4Network,
    endpoints: list[Endpoint],
    out: dict[tuple[str, str], EndpointAddress],
) -> tuple[NetworkAddress | None, Problem | None]:
    """Address one network: static IPs, then gateway, then dynamic endpoints."""
    ipam = Ipam()
    master = ipam.request_pool(str(subnet))
    dynamic_pool = master
    ip_range: IPv4Network | None = None
    if net.ip_range is not None:
        parsed_range = _parse_network(net.ip_range)
        if parsed_range is not None and parsed_range.subnet_of(subnet):
            ip_range = parsed_range
            dynamic_pool = ipam.request_pool(str(subnet), str(parsed_range))
        else:
            logger.debug("network %s: ignoring unusable ip_range %r", net.name, net.ip_range)
    ordered = sorted(endpoints, key=lambda ep: ep.sandbox)
    mine: dict[tuple[str, str], EndpointAddress] = {}
    dynamic: list[Endpoint] = []
    for ep in ordered:
        if ep.ip is None:
            dynamic.append(ep)
            continue
        try:
            iface = ipam.request_address(master, ep.ip)
        except NetlabError as exc:
            logger.debug("network %s: skipping endpoint of %s: %s", net.name, ep.sandbox, exc)
            continue
        mine[(ep.sandbox, net.name)] = EndpointAddress(iface, _mac_for(ep, iface))
    gateway: IPv4Address | None = None
    if net.gateway is not None:
        try:
            gateway = ipam.request_address(master, net.gateway).ip
        except NetlabError as exc:
            logger.debug("network %s: ignoring gateway %r: %s", net.name, net.gateway, exc)
    if gateway is None:
        try:
            gateway = ipam.request_address(master).ip
        except UnavailableError:
            return None, _exhausted(net.name, len(dynamic) + 1, 0, f"subnet {subnet} (gateway included)")
    available = ipam.available(dynamic_pool)
    problem: Problem | None = None
    if len(dynamic) > available:
        where = f"ip_range {ip_range}" if ip_range is not None else f"subnet {subnet}"
        problem = _exhausted(net.name, len(dynamic), available, where)
        dynamic = dynamic[:available]
    for ep in dynamic:
        iface = ipam.request_address(dynamic_pool)
        mine[(ep.sandbox, net.name)] = EndpointAddress(iface, _mac_for(ep, iface))
    out.update(mine)
    return NetworkAddress(subnet, gateway, ip_range), problem


def plan_addresses(topo: Topology) -> tuple[Addressing, list[Problem]]:
    """Choose subnets, gateways, IPs and MACs for a whole topology, deterministically.

    Networks are handled in name order. Explicit subnets are used as given (even
    overlapping ones: validation judges those); networks without one get the
    first default pool of their scope that overlaps nothing they could meet: the
    underlay, and for a local network every network present on one of its hosts,
    for an overlay every other overlay and every network on its hosts. Bridges
    on different hosts may therefore reuse the same subnet, as Docker does per
    host. A network present on no host (no ``host``, no sandboxes) overlaps
    nothing in the topology: it avoids every other subnet and every later
    automatic subnet avoids it.

    Within a network, static IPs are reserved first (sandbox name order), then
    the gateway (``gateway`` if usable, else the lowest free address of the
    subnet), then dynamic endpoints in sandbox name order take the lowest free
    addresses of ``ip_range`` (if usable) or the subnet. MACs are the endpoint's
    ``mac`` or :func:`mac_from_ip`.

    Unusable input is skipped silently, leaving the reporting to validation: a
    network whose driver uses no IPAM (``null``, ``host``) or whose ``subnet`` is
    not a strict IPv4 CIDR gets no entry; a bad ``gateway`` or ``ip_range`` is
    ignored; an endpoint whose static IP is malformed, outside the subnet, the
    network/broadcast address or already claimed (first claimant wins) gets no
    entry.

    Parameters
    ----------
    topo : Topology
        The model; it is not modified.

    Returns
    -------
    tuple of (Addressing, list of Problem)
        The addresses, and the sorted problems: ``no-available-pool`` when no
        default pool is free for a network, ``pool-exhausted`` when a network's
        subnet or ip_range lacks addresses for its dynamic endpoints (those
        left over get no entry).
    """
    drivers = known_drivers()
    networks = sorted((net for net in topo.networks if _uses_ipam(net, drivers)), key=lambda net: net.name)
    endpoints = {net.name: topo.endpoints_on(net.name) for net in networks}
    hosts = _hosts_by_network(topo, networks, endpoints)
    underlay = _parse_network(topo.underlay.subnet)
    problems: list[Problem] = []

    subnets: dict[str, IPv4Network] = {}
    for net in networks:
        if net.subnet is not None:
            parsed = _parse_network(net.subnet)
            if parsed is None:
                logger.debug("network %s: skipping unusable subnet %r", net.name, net.subnet)
            else:
                subnets[net.name] = parsed
    by_name = {net.name: net for net in networks}
    for net in networks:
        if net.subnet is not None:
            continue
        avoid = [subnets[other] for other in subnets if _shares_scope(net, by_name[other], hosts)]
        if underlay is not None:
            avoid.append(underlay)
        chosen = _DEFAULT_POOLS[net.scope].first_free(avoid)
        if chosen is None:
            problems.append(
                Problem(
                    f"networks.{net.name}",
                    "no-available-pool",
                    f"network {net.name!r}: {_NO_POOL_MESSAGE} for {net.scope}-scope networks",
                    "set the network's subnet explicitly",
                )
            )
            continue
        subnets[net.name] = chosen

    planned: dict[str, NetworkAddress] = {}
    addressed: dict[tuple[str, str], EndpointAddress] = {}
    for net in networks:
        subnet = subnets.get(net.name)
        if subnet is None:
            continue
        config, problem = _address_network(net, subnet, endpoints[net.name], addressed)
        if config is not None:
            planned[net.name] = config
        if problem is not None:
            problems.append(problem)
    return Addressing(planned, dict(sorted(addressed.items()))), sorted(problems)


def allocate(topo: Topology) -> Addressing:
    """:func:`plan_addresses`, raising when anything could not be addressed.

    Parameters
    ----------
    topo : Topology
        The model.

    Returns
    -------
    Addressing
        The addresses of every IPAM network and endpoint.

    Raises
    ------
    ValidationError
        Carrying the ``pool-exhausted`` / ``no-available-pool`` problems.
    """
    addressing, problems = plan_addresses(topo)
    if problems:
        raise ValidationError(problems)
    return addressing
