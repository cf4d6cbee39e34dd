"""The libnetwork-style Ipam allocator: pools, sub-pools, addresses, release and reuse."""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlab.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    UnavailableError,
)
from netlab.ipam import Ipam

N = IPv4Network
A = IPv4Address
I = IPv4Interface  # noqa: E741

MAC_RE = re.compile(r"^02:42(:[0-9a-f]{2}){4}$")



class TestIpamPools:
    def test_default_pools_in_order(self) -> None:
        ipam = Ipam()
        assert ipam.request_pool() == "LocalDefault/172.17.0.0/16"
        assert ipam.request_pool() == "LocalDefault/172.18.0.0/16"
        assert ipam.request_pool(scope="global") == "GlobalDefault/10.0.0.0/24"
        assert ipam.request_pool(scope="global") == "GlobalDefault/10.0.1.0/24"

    def test_default_pool_skips_explicit_and_avoided(self) -> None:
        ipam = Ipam()
        ipam.request_pool("172.17.5.0/24")
        assert ipam.request_pool(avoid=[N("172.18.0.0/15")]) == "LocalDefault/172.20.0.0/16"

    def test_address_spaces_are_independent(self) -> None:
        ipam = Ipam()
        assert ipam.request_pool("10.0.0.0/24") == "LocalDefault/10.0.0.0/24"
        assert ipam.request_pool("10.0.0.0/16", scope="global") == "GlobalDefault/10.0.0.0/16"

    def test_identical_requests_are_refcounted(self) -> None:
        ipam = Ipam()
        first = ipam.request_pool("10.1.0.0/24")
        assert ipam.request_pool("10.1.0.0/24") == first
        ipam.release_pool(first)
        assert ipam.subnet(first) == N("10.1.0.0/24")
        ipam.release_pool(first)
        with pytest.raises(NotFoundError, match="10.1.0.0/24"):
            ipam.subnet(first)
        with pytest.raises(NotFoundError):
            ipam.release_pool(first)

    def test_released_default_pool_is_reused(self) -> None:
        ipam = Ipam()
        pool = ipam.request_pool()
        ipam.release_pool(pool)
        assert ipam.request_pool() == pool

    def test_overlapping_explicit_pool_conflicts(self) -> None:
        ipam = Ipam()
        ipam.request_pool("10.0.0.0/16")
        with pytest.raises(ConflictError, match=r"10\.0\.1\.0/24.*overlaps.*10\.0\.0\.0/16"):
            ipam.request_pool("10.0.1.0/24")
        with pytest.raises(ConflictError):
            ipam.request_pool("10.0.0.0/8")

    def test_sub_pool_id_and_shared_addresses(self) -> None:
        ipam = Ipam()
        sub = ipam.request_pool("10.0.0.0/24", "10.0.0.128/25")
        assert sub == "LocalDefault/10.0.0.0/24/10.0.0.128/25"
        whole = ipam.request_pool("10.0.0.0/24")
        assert whole == "LocalDefault/10.0.0.0/24"
        assert ipam.request_address(sub) == I("10.0.0.128/24")
        with pytest.raises(ConflictError):
            ipam.request_address(whole, "10.0.0.128")

    @pytest.mark.parametrize(
        ("pool", "sub_pool", "match"),
        [
            (None, "10.0.0.0/25", "without a pool"),
            ("10.0.0.0/24", "10.0.1.0/25", "not inside pool 10.0.0.0/24"),
            ("10.0.0.0/24", "10.0.0.0/23", "not inside"),
            ("10.0.0.0/24", "10.0.0.1/25", "invalid sub-pool"),
            ("10.0.0.1/24", None, "invalid pool"),
            ("10.0.0.0", None, "invalid pool"),
            ("banana", None, "invalid pool"),
            ("2001:db8::/64", None, "invalid pool"),
        ],
    )
    def test_invalid_requests(self, pool: str | None, sub_pool: str | None, match: str) -> None:
        with pytest.raises(InvalidRequestError, match=match):
            Ipam().request_pool(pool, sub_pool)

    def test_unknown_scope(self) -> None:
        with pytest.raises(InvalidRequestError, match="scope"):
            Ipam().request_pool(scope="swarm")

    def test_no_free_default_pool(self) -> None:
        ipam = Ipam()
        for _ in range(31):
            ipam.request_pool()
        with pytest.raises(UnavailableError, match="could not find an available, non-overlapping IPv4"):
            ipam.request_pool()
        with pytest.raises(UnavailableError, match="GlobalDefault"):
            Ipam().request_pool(scope="global", avoid=[N("10.0.0.0/8")])


# -- the Ipam allocator: addresses ---------------------------------------------------
class TestIpamAddresses:
    def test_lowest_free_with_prefix_length(self) -> None:
        ipam = Ipam()
        pool = ipam.request_pool()
        assert ipam.request_address(pool) == I("172.17.0.1/16")
        assert ipam.request_address(pool) == I("172.17.0.2/16")

    def test_preferred_address_and_skip(self) -> None:
        ipam = Ipam()
        pool = ipam.request_pool("10.0.0.0/24")
        assert ipam.request_address(pool, "10.0.0.1") == I("10.0.0.1/24")
        assert ipam.request_address(pool, A("10.0.0.3")) == I("10.0.0.3/24")
        assert [ipam.request_address(pool) for _ in range(2)] == [I("10.0.0.2/24"), I("10.0.0.4/24")]

    def test_preferred_outside_pool(self) -> None:
        ipam = Ipam()
        pool = ipam.request_pool("10.0.0.0/24")
        with pytest.raises(
            InvalidRequestError,
            match=r"Invalid address 10\.0\.1\.5: It does not belong to any of this network's subnets",
        ):
            ipam.request_address(pool, "10.0.1.5")

    @pytest.mark.parametrize(("ip", "which"), [("10.0.0.0", "network"), ("10.0.0.255", "broadcast")])
    def test_preferred_network_or_broadcast(self, ip: str, which: str) -> None:
        ipam = Ipam()
        pool = ipam.request_pool("10.0.0.0/24")
        with pytest.raises(InvalidRequestError, match=which):
            ipam.request_address(pool, ip)

    @pytest.mark.parametrize("bad", ["10.0.0.300", "x", "", "10.0.0.5/24", "2001:db8::1"])
    def test_preferred_not_ipv4(self, bad: str) -> None:
        ipam = Ipam()
        pool = ipam.request_pool("10.0.0.0/24")
        with pytest.raises(InvalidRequestError, match="Invalid address"):
            ipam.request_address(pool, bad)

    def test_preferred_taken_conflicts(self) -> None:
        ipam = Ipam()
        pool = ipam.request_pool("10.0.0.0/24")
        ipam.request_address(pool, "10.0.0.7")
        with pytest.raises(ConflictError, match=r"10\.0\.0\.7.*LocalDefault/10\.0\.0\.0/24"):
            ipam.request_address(pool, "10.0.0.7")

    def test_exhaustion_names_the_pool(self) -> None:
        ipam = Ipam()
        pool = ipam.request_pool("10.9.0.0/30")
        assert ipam.available(pool) == 2
        got = [ipam.request_address(pool) for _ in range(2)]
        assert got == [I("10.9.0.1/30"), I("10.9.0.2/30")]
        assert ipam.available(pool) == 0
        with pytest.raises(UnavailableError, match=r"10\.9\.0\.0/30"):
            ipam.request_address(pool)

    def test_sub_pool_exhaustion(self) -> None:
        ipam = Ipam()
        sub = ipam.request_pool("10.0.0.0/24", "10.0.0.252/30")
        assert [ipam.request_address(sub) for _ in range(3)] == [
            I("10.0.0.252/24"),
            I("10.0.0.253/24"),
            I("10.0.0.254/24"),
        ]
        with pytest.raises(UnavailableError, match=r"sub-pool 10\.0\.0\.252/30"):
            ipam.request_address(sub)

    def test_slash_31_and_32_have_no_usable_address(self) -> None:
        ipam = Ipam()
        for cidr in ("10.0.0.0/31", "10.0.0.4/32"):
            pool = ipam.request_pool(cidr)
            assert ipam.available(pool) == 0
            with pytest.raises(UnavailableError):
                ipam.request_address(pool)

    def test_release_and_reuse(self) -> None:
        ipam = Ipam()
        pool = ipam.request_pool("10.0.0.0/24")
        addrs = [ipam.request_address(pool) for _ in range(5)]
        ipam.release_address(pool, addrs[1])
        ipam.release_address(pool, "10.0.0.4")
        assert ipam.request_address(pool) == addrs[1]
        assert ipam.request_address(pool) == I("10.0.0.4/24")
        assert ipam.request_address(pool) == I("10.0.0.6/24")

    def test_release_makes_preferred_available_again(self) -> None:
        ipam = Ipam()
        pool = ipam.request_pool("10.0.0.0/24")
        ipam.request_address(pool, "10.0.0.9")
        ipam.release_address(pool, A("10.0.0.9"))
        assert ipam.request_address(pool, "10.0.0.9") == I("10.0.0.9/24")

    def test_release_errors(self) -> None:
        ipam = Ipam()
        pool = ipam.request_pool("10.0.0.0/24")
        with pytest.raises(NotFoundError, match=r"10\.0\.0\.5 is not allocated"):
            ipam.release_address(pool, "10.0.0.5")
        with pytest.raises(InvalidRequestError, match="does not belong"):
            ipam.release_address(pool, "10.0.1.5")
        with pytest.raises(InvalidRequestError):
            ipam.release_address(pool, "garbage")
        with pytest.raises(NotFoundError, match="nope"):
            ipam.release_address("nope", "10.0.0.5")

    def test_unknown_pool_id(self) -> None:
        with pytest.raises(NotFoundError, match="LocalDefault/10.0.0.0/24"):
            Ipam().request_address("LocalDefault/10.0.0.0/24")

    def test_releasing_the_pool_frees_its_addresses(self) -> None:
        ipam = Ipam()
        pool = ipam.request_pool("10.0.0.0/24")
        ipam.request_address(pool, "10.0.0.1")
        ipam.release_pool(pool)
        pool = ipam.request_pool("10.0.0.0/24")
        assert ipam.request_address(pool) == I("10.0.0.1/24")

    def test_release_in_master_rewinds_sub_pool_cursor(self) -> None:
        ipam = Ipam()
        whole = ipam.request_pool("10.0.0.0/24")
        sub = ipam.request_pool("10.0.0.0/24", "10.0.0.16/28")
        first = ipam.request_address(sub)
        ipam.request_address(sub)
        ipam.release_address(whole, first)
        assert ipam.request_address(sub) == first

    def test_ten_thousand_addresses_in_order(self) -> None:
        ipam = Ipam()
        pool = ipam.request_pool("10.1.0.0/16")
        got = [ipam.request_address(pool) for _ in range(10_000)]
        assert got[0] == I("10.1.0.1/16")
        assert got[-1] == I("10.1.39.16/16")
        assert len(set(got)) == 10_000

    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(
            st.one_of(
                st.tuples(st.just("any"), st.just(0)),
                st.tuples(st.just("pref"), st.integers(0, 15)),
                st.tuples(st.just("free"), st.integers(0, 15)),
            ),
            max_size=60,
        )
    )
    def test_matches_a_set_model(self, ops: list[tuple[str, int]]) -> None:
        ipam = Ipam()
        pool = ipam.request_pool("10.0.0.0/28")
        held: set[int] = set()
        for op, offset in ops:
            if op == "any":
                free = sorted(set(range(1, 15)) - held)
                if free:
                    assert int(ipam.request_address(pool).ip) - int(A("10.0.0.0")) == free[0]
                    held.add(free[0])
                else:
                    with pytest.raises(UnavailableError):
                        ipam.request_address(pool)
            elif op == "pref":
                ip = f"10.0.0.{offset}"
                if offset in (0, 15):
                    with pytest.raises(InvalidRequestError):
                        ipam.request_address(pool, ip)
                elif offset in held:
                    with pytest.raises(ConflictError):
                        ipam.request_address(pool, ip)
                else:
                    assert ipam.request_address(pool, ip) == I(f"{ip}/28")
                    held.add(offset)
            elif offset in held:
                ipam.release_address(pool, f"10.0.0.{offset}")
                held.discard(offset)
            assert ipam.available(pool) == 14 - len(held)


# -- plan_addresses: defaults --------------------------------------------------------
