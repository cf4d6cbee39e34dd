"""Default pools and MACs derived from IPs."""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

import pytest

from netlab.errors import (
    InvalidRequestError,
)
from netlab.pools import DEFAULT_GLOBAL_POOLS, DEFAULT_LOCAL_POOLS, PoolSequence, mac_from_ip

N = IPv4Network
A = IPv4Address
I = IPv4Interface  # noqa: E741

MAC_RE = re.compile(r"^02:42(:[0-9a-f]{2}){4}$")



class TestDefaultPools:
    def test_local_pools_are_dockers_31_in_order(self) -> None:
        expected = [N(f"172.{i}.0.0/16") for i in range(17, 32)]
        expected += [N(f"192.168.{16 * i}.0/20") for i in range(16)]
        assert list(DEFAULT_LOCAL_POOLS) == expected
        assert len(DEFAULT_LOCAL_POOLS) == 31

    def test_global_pools_are_the_24s_of_10_8(self) -> None:
        assert len(DEFAULT_GLOBAL_POOLS) == 65536
        assert DEFAULT_GLOBAL_POOLS[0] == N("10.0.0.0/24")
        assert DEFAULT_GLOBAL_POOLS[1] == N("10.0.1.0/24")
        assert DEFAULT_GLOBAL_POOLS[256] == N("10.1.0.0/24")
        assert DEFAULT_GLOBAL_POOLS[-1] == N("10.255.255.0/24")

    def test_indexing_matches_iteration(self) -> None:
        assert [DEFAULT_LOCAL_POOLS[i] for i in range(31)] == list(DEFAULT_LOCAL_POOLS)
        assert DEFAULT_LOCAL_POOLS[14:17] == [N("172.31.0.0/16"), N("192.168.0.0/20"), N("192.168.16.0/20")]
        assert DEFAULT_GLOBAL_POOLS[:2] == [N("10.0.0.0/24"), N("10.0.1.0/24")]

    def test_index_out_of_range(self) -> None:
        with pytest.raises(IndexError):
            DEFAULT_LOCAL_POOLS[31]

    def test_membership_is_arithmetic(self) -> None:
        assert N("10.200.3.0/24") in DEFAULT_GLOBAL_POOLS
        assert N("10.200.3.0/25") not in DEFAULT_GLOBAL_POOLS
        assert N("192.168.32.0/20") in DEFAULT_LOCAL_POOLS
        assert N("172.16.0.0/16") not in DEFAULT_LOCAL_POOLS
        assert "10.0.0.0/24" not in DEFAULT_GLOBAL_POOLS

    def test_first_free_jumps_over_avoided_ranges(self) -> None:
        avoid = [N("10.0.0.0/9"), N("10.128.0.0/24"), N("10.128.1.7/32")]
        assert DEFAULT_GLOBAL_POOLS.first_free(avoid) == N("10.128.2.0/24")
        assert DEFAULT_GLOBAL_POOLS.first_free([N("10.0.0.0/8")]) is None
        assert DEFAULT_LOCAL_POOLS.first_free([N("172.16.0.0/12")]) == N("192.168.0.0/20")
        assert DEFAULT_LOCAL_POOLS.first_free() == N("172.17.0.0/16")

    def test_first_free_agrees_with_brute_force(self) -> None:
        avoid = [N("172.17.3.0/24"), N("172.18.0.0/15"), N("172.20.0.0/16"), N("192.168.0.5/32")]
        brute = next(p for p in DEFAULT_LOCAL_POOLS if not any(p.overlaps(a) for a in avoid))
        assert DEFAULT_LOCAL_POOLS.first_free(avoid) == brute == N("172.21.0.0/16")

    def test_custom_sequence_rejects_impossible_cut(self) -> None:
        with pytest.raises(InvalidRequestError):
            PoolSequence([("10.0.0.0/16", 8)])


# -- MACs ------------------------------------------------------------------------
class TestMacFromIp:
    @pytest.mark.parametrize(
        ("ip", "mac"),
        [
            ("172.18.0.2", "02:42:ac:12:00:02"),
            ("172.17.0.1", "02:42:ac:11:00:01"),
            ("10.0.0.255", "02:42:0a:00:00:ff"),
            ("255.255.255.255", "02:42:ff:ff:ff:ff"),
            ("0.0.0.0", "02:42:00:00:00:00"),
        ],
    )
    def test_docker_derivation(self, ip: str, mac: str) -> None:
        assert mac_from_ip(ip) == mac

    def test_accepts_address_objects_and_interfaces(self) -> None:
        assert mac_from_ip(A("192.168.1.10")) == "02:42:c0:a8:01:0a"
        assert mac_from_ip(I("192.168.1.10/24")) == "02:42:c0:a8:01:0a"
        assert mac_from_ip("192.168.1.10/24") == "02:42:c0:a8:01:0a"

    @pytest.mark.parametrize("bad", ["", "nope", "10.0.0", "2001:db8::1", "300.1.1.1"])
    def test_rejects_non_ipv4(self, bad: str) -> None:
        with pytest.raises(InvalidRequestError, match="MAC"):
            mac_from_ip(bad)


# -- the Ipam allocator: pools -------------------------------------------------------
