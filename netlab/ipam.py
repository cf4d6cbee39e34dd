"""IPAM: libnetwork's default IPAM as a stateful allocator.

:class:`Ipam` speaks libnetwork's vocabulary: address spaces
``LocalDefault``/``GlobalDefault``, pool ids, sub-pools, refcounted pools,
preferred addresses. The controller drives it one request at a time; the
whole-topology planner (:mod:`netlab.addressing`) drives it too.

Like classic libnetwork, the network and broadcast addresses of every pool are
reserved (also for ``/31`` and ``/32``, which therefore have no usable address),
dynamic allocation hands out the lowest free address, and a sub-pool
(``ip_range``) spans all its addresses except the pool's own network and
broadcast addresses.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from netlab.errors import ConflictError, InvalidRequestError, NotFoundError, UnavailableError
from netlab.pools import (
    DEFAULT_POOLS,
    _parse_address,
    _parse_address_or_cidr,
    _parse_network,
    _span,
)

__all__ = ["GLOBAL_ADDRESS_SPACE", "LOCAL_ADDRESS_SPACE", "NO_POOL_MESSAGE", "Ipam"]

logger = logging.getLogger(__name__)

#: libnetwork's address space for local-scope networks
LOCAL_ADDRESS_SPACE = "LocalDefault"
#: libnetwork's address space for global-scope (multi-host) networks
GLOBAL_ADDRESS_SPACE = "GlobalDefault"

_SPACES: dict[str, str] = {"local": LOCAL_ADDRESS_SPACE, "global": GLOBAL_ADDRESS_SPACE}

NO_POOL_MESSAGE = "could not find an available, non-overlapping IPv4 address pool among the defaults"


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
            chosen = DEFAULT_POOLS[scope].first_free([*held, *avoid])
            if chosen is None:
                raise UnavailableError(f"{NO_POOL_MESSAGE} (address space {space})")
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
