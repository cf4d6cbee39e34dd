"""Pools: Docker's default address pools, address parsing and MACs derived from IPs.

Local-scope networks (bridge, macvlan) draw from ``172.17.0.0/16`` ...
``172.31.0.0/16`` then ``192.168.0.0/16`` cut into ``/20`` s
(:data:`DEFAULT_LOCAL_POOLS`); global-scope networks (overlay) draw ``/24`` s
from ``10.0.0.0/8`` (:data:`DEFAULT_GLOBAL_POOLS`, computed lazily).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import overload

from netlab.errors import InvalidRequestError

__all__ = ["DEFAULT_GLOBAL_POOLS", "DEFAULT_LOCAL_POOLS", "DEFAULT_POOLS", "PoolSequence", "mac_from_ip"]


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

DEFAULT_POOLS: dict[str, PoolSequence] = {"local": DEFAULT_LOCAL_POOLS, "global": DEFAULT_GLOBAL_POOLS}


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
