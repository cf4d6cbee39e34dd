"""The walker's nftables: rules written back as nft text, evaluated as nft would, unknown ones refused."""

from __future__ import annotations

from typing import Any

import pytest

from netlab import nft
from netlab.backends.nftjson import normalize_ruleset
from netlab.backends.walk import World
from netlab.backends.walk_nft import Ruleset, render_rule
from netlab.errors import NotSupportedError
from tests.test_walk import deploy, snapshot


def ruleset(chains: dict[str, list[nft.Rule]], extra: list[dict[str, Any]] | None = None) -> Ruleset:
    """Compile what ``netlab.nft`` builds, after the same normalisation a snapshot applies."""
    listing = normalize_ruleset(nft.ruleset(chains))
    assert listing is not None
    return Ruleset.compile("nl-t-h-h1", listing + (extra or []))


def ctx(iif: str = "br-a", oif: str = "eth0", src: str = "10.0.0.2", dst: str = "192.0.2.1", proto: str = "tcp",
        sport: int = 40000, dport: int = 80, state: str = "new") -> tuple[str, str, int, int, str, int, int, str, str]:
    def ip(text: str) -> int:
        a, b, c, d = (int(x) for x in text.split("."))
        return a << 24 | b << 16 | c << 8 | d
    icmp = "echo-request" if proto == "icmp" else ""
    return iif, oif, ip(src), ip(dst), proto, sport, dport, icmp, state


class TestRender:
    @pytest.mark.parametrize(("rule", "text"), [
        ([nft.ct_established(), nft.accept()], "ct state established,related accept"),
        ([nft.match("iifname", "br-x"), nft.match("oifname", "br-x"), nft.drop()],
         'iifname "br-x" oifname "br-x" drop'),
        ([nft.match("ip.saddr", "10.0.1.0/24"), nft.match("oifname", "br-x", "!="), nft.masquerade()],
         'ip saddr 10.0.1.0/24 oifname != "br-x" masquerade'),
        ([nft.match("ip.daddr", "192.0.2.11"), nft.match("tcp.dport", 8080), nft.dnat("10.0.1.2", 80)],
         "ip daddr 192.0.2.11 tcp dport 8080 dnat to 10.0.1.2:80"),
        ([{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                     "right": {"set": [22, {"range": [8000, 8080]}]}}}, {"counter": None}, {"accept": None}],
         "tcp dport { 22, 8000-8080 } counter accept"),
    ])
    def test_rules_read_as_nft_lists_them(self, rule: list[dict[str, Any]], text: str) -> None:
        assert render_rule(rule) == text


class TestEvaluate:
    def test_first_matching_rule_decides_and_the_policy_is_the_rest(self) -> None:
        rules = ruleset({"forward": [[nft.ct_established(), nft.accept()],
                                     [nft.match("iifname", "br-a"), nft.match("oifname", "br-a"), nft.drop()],
                                     [nft.match("iifname", "br-a"), nft.match("oifname", "eth0"), nft.accept()]]})
        out = rules.run("forward", ctx(), True)
        assert out.accepted and out.trail == ("nft forward: accept by 'iifname \"br-a\" oifname \"eth0\" accept'",)
        inside = rules.run("forward", ctx(oif="br-a"), True)
        assert (inside.accepted, inside.chain, inside.rule) == (False, "forward", 'iifname "br-a" oifname "br-a" drop')
        other = rules.run("forward", ctx(oif="br-b"), True)
        assert (other.accepted, other.rule) == (False, "policy drop")
        assert rules.run("forward", ctx(oif="br-b", state="established"), False).accepted

    def test_nat_chains_run_for_new_connections_only(self) -> None:
        rules = ruleset({"prerouting": [[nft.match("ip.daddr", "192.0.2.11"), nft.match("tcp.dport", 8080),
                                         nft.dnat("10.0.1.2", 80)]],
                         "postrouting": [[nft.match("ip.saddr", "10.0.0.0/24"), nft.masquerade()]]})
        new = rules.run("prerouting", ctx(dst="192.0.2.11", dport=8080), True)
        assert new.nat == ("dnat", (10 << 24) + (1 << 8) + 2, 80)
        assert rules.run("prerouting", ctx(dst="192.0.2.11", dport=8080), False).nat is None
        assert rules.run("postrouting", ctx(), True).nat == ("masquerade", None, None)
        assert rules.run("postrouting", ctx(src="10.0.1.2"), True).nat is None

    def test_a_transport_match_never_holds_for_another_protocol(self) -> None:
        rules = ruleset({"forward": [[nft.match("tcp.dport", 80, "!="), nft.accept()]]})
        assert rules.run("forward", ctx(dport=22), True).accepted
        assert not rules.run("forward", ctx(proto="udp", dport=22), True).accepted   # nft adds "meta l4proto tcp"
        assert not rules.run("forward", ctx(proto="icmp", sport=0, dport=0), True).accepted

    def test_jump_return_goto_and_reject(self) -> None:
        table = {"family": "inet", "table": "t"}
        chains: list[dict[str, Any]] = [
            {"table": {"family": "inet", "name": "t"}},
            {"chain": {**table, "name": "fw", "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}},
            {"chain": {**table, "name": "check"}}, {"chain": {**table, "name": "deny"}},
            {"rule": {**table, "chain": "fw", "expr": [{"jump": {"target": "check"}}]}},
            {"rule": {**table, "chain": "fw", "expr": [
                {"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "saddr"}},
                           "right": "::1"}}, {"drop": None}]}},
            {"rule": {**table, "chain": "check", "expr": [
                {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}},
                {"goto": {"target": "deny"}}]}},
            {"rule": {**table, "chain": "check", "expr": [{"return": None}]}},
            {"rule": {**table, "chain": "deny", "expr": [{"counter": None}, {"reject": None}]}},
        ]
        rules = Ruleset.compile("nl-t-h-h1", normalize_ruleset(chains) or [])
        assert rules.run("forward", ctx(dport=80), True).accepted       # returns, the ip6 rule never matches
        denied = rules.run("forward", ctx(dport=22), True)
        assert (denied.accepted, denied.chain, denied.rule) == (False, "fw", "counter reject")


class TestRefused:
    def lab_with(self, expr: list[dict[str, Any]]) -> World:
        backend, p = deploy("single-host-bridge")
        snap = snapshot(backend)
        listing = snap[f"{p}h-h1"].ruleset
        assert listing is not None
        listing.append({"rule": {"family": "ip", "table": "netlab", "chain": "forward", "expr": expr}})
        return World.from_snapshot(snap)

    def test_an_unknown_statement_is_a_clear_error(self) -> None:
        with pytest.raises(NotSupportedError) as caught:
            self.lab_with([{"limit": {"rate": 10, "per": "second"}}, {"accept": None}])
        message = str(caught.value)
        assert "nl-single-bridge-h-h1" in message and "chain ip netlab forward" in message
        assert "does not understand the expression" in message and '"limit"' in message

    def test_an_unknown_match_is_a_clear_error(self) -> None:
        with pytest.raises(NotSupportedError, match=r"does not understand the match on .*\"mark\""):
            self.lab_with([{"match": {"op": "==", "left": {"meta": {"key": "mark"}}, "right": 1}}, {"drop": None}])

    def test_named_sets_are_refused(self) -> None:
        with pytest.raises(NotSupportedError, match="named sets"):
            self.lab_with([{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                                      "right": "@blocked"}}, {"drop": None}])

    def test_a_bridge_family_hook_is_refused(self) -> None:
        with pytest.raises(NotSupportedError, match="bridge b fw on hook 'forward'"):
            Ruleset.compile("nl-t-h-h1", [{"table": {"family": "bridge", "name": "b"}}, {"chain": {
                "family": "bridge", "table": "b", "name": "fw", "type": "filter", "hook": "forward", "prio": 0,
                "policy": "accept"}}])
