"""Scenario files: shape checks with lines, both list and mapping forms, round trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from netlab import PortMapping, Topology, ValidationError
from netlab.loading import from_dict, load_file, load_text, parse_file, parse_text

SCENARIOS = sorted((Path(__file__).parent.parent / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_round_trip(path: Path) -> None:
    topo = load_file(path)
    again = from_dict(topo.to_dict())
    assert again == topo
    assert again.to_dict() == topo.to_dict()
    assert [c.kind for c in again.expect] == [c.kind for c in topo.expect]


def test_round_trip_keeps_every_field() -> None:
    text = """
name: full
underlay: {subnet: 198.51.100.0/24, mtu: 9000}
hosts:
  h1: {underlay_ip: 198.51.100.5, labels: {rack: r1}}
networks:
  n:
    driver: bridge
    host: h1
    subnet: 10.0.0.0/24
    gateway: 10.0.0.254
    ip_range: 10.0.0.128/25
    internal: true
    mtu: 1400
    options: {com.docker.network.bridge.enable_icc: false}
    labels: {team: a}
containers:
  c:
    host: h1
    networks: {n: {ip: 10.0.0.7, mac: "02:42:0a:00:00:07", aliases: [x, y]}}
    ports: ["127.0.0.1:8080:80/udp"]
    labels: {role: web}
expect:
  - tcp: {from: c, to: x, port: 80, expect: fail}
  - reachability: full
"""
    topo = load_text(text)
    net = topo.network("n")
    assert (net.gateway, net.ip_range, net.internal, net.mtu) == ("10.0.0.254", "10.0.0.128/25", True, 1400)
    assert net.options == {"com.docker.network.bridge.enable_icc": "false"}
    assert topo.underlay.mtu == 9000 and topo.host("h1").underlay_ip == "198.51.100.5"
    assert topo.endpoint("c", "n").aliases == ("x", "y")
    assert topo.sandbox("c").ports == (PortMapping(8080, 80, "udp", "127.0.0.1"),)
    assert from_dict(topo.to_dict()) == topo


class TestLines:
    def test_lines_are_recorded_per_path(self) -> None:
        topo = load_text("hosts: [h1]\nnetworks:\n  front:\n    subnet: 10.0.0.0/24\n")
        assert topo.lines["networks.front.subnet"] == 4
        assert topo.lines["hosts[0]"] == 1

    def test_problems_carry_file_and_line(self, tmp_path: Path) -> None:
        path = tmp_path / "bad.yaml"
        path.write_text("hosts: [h1]\nnetworks:\n  front:\n    sbnet: 10.0.0.0/24\n")
        _, problems = parse_file(path)
        assert [(p.code, p.line, p.file) for p in problems] == [("unknown-key", 4, str(path))]
        assert problems[0].format().startswith(f"{path}:4: unknown-key:")


class TestForms:
    def test_list_and_mapping_forms_are_equal(self) -> None:
        short = load_text("hosts: [h1]\nnetworks: {a: {}}\ncontainers: {c: {networks: [a]}}\n")
        long = load_text("hosts: {h1: {}}\nnetworks: {a: {driver: bridge}}\n"
                         "containers: {c: {networks: {a: {}}}}\n")
        assert short == long

    def test_sexagesimal_port_stays_text(self) -> None:
        topo = load_text("hosts: [h1]\nnetworks: {a: {}}\ncontainers: {c: {networks: [a], ports: [2222:22]}}\n")
        assert topo.sandbox("c").ports == (PortMapping(2222, 22),)

    def test_merge_keys(self) -> None:
        topo = load_text("hosts: [h1]\nnetworks:\n  a: &d {driver: overlay, mtu: 1400}\n  b: {<<: *d, mtu: 1300}\n")
        assert topo.network("b").driver == "overlay" and topo.network("b").mtu == 1300

    def test_default_name_is_file_stem(self, tmp_path: Path) -> None:
        path = tmp_path / "my-lab.yaml"
        path.write_text("hosts: [h1]\n")
        assert load_file(path).name == "my-lab"


class TestBadInput:
    @pytest.mark.parametrize(
        ("text", "code"),
        [
            ("a: [1,\n", "yaml-syntax"),
            ("- just\n- a list\n", "bad-type"),
            ("hosts: 5\n", "bad-type"),
            ("hosts: [h1, h1]\n", "duplicate-name"),
            ("x: &a [*a]\n", "yaml-syntax"),
            ("hosts: !!python/object:os.system {}\n", "yaml-syntax"),
            ("{? [1, 2] : 3}\n", "yaml-syntax"),
        ],
    )
    def test_one_problem_no_traceback(self, text: str, code: str) -> None:
        _, problems = parse_text(text, "t.yaml")
        assert code in [p.code for p in problems]
        with pytest.raises(ValidationError):
            load_text(text)

    def test_empty_document_is_an_empty_topology(self) -> None:
        topo, problems = parse_text("")
        assert problems == [] and topo.hosts == []

    def test_unreadable_file(self, tmp_path: Path) -> None:
        _, problems = parse_file(tmp_path / "missing.yaml")
        assert [p.code for p in problems] == ["unreadable"]

    def test_binary_file(self, tmp_path: Path) -> None:
        path = tmp_path / "bin.yaml"
        path.write_bytes(b"\xff\xfe\x00bad")
        _, problems = parse_file(path)
        assert [p.code for p in problems] == ["unreadable"]

    def test_from_dict_raises_validation_error(self) -> None:
        with pytest.raises(ValidationError, match="unknown-key"):
            from_dict({"hosts": ["h1"], "bogus": 1})

    def test_good_parts_survive_bad_parts(self) -> None:
        topo, problems = parse_text("hosts: [h1]\nnetworks: {a: {}, b: {subnet: 5}}\n"
                                    "containers: {c: {networks: [a, zzz]}}\n")
        assert isinstance(topo, Topology)
        assert [ep.network for ep in topo.endpoints_of("c")] == ["a"]
        assert sorted(p.code for p in problems) == ["bad-type", "unknown-network"]


def test_round_trip_keeps_connect_order() -> None:
    topo = load_text("hosts: [h1]\nnetworks: {a: {}, b: {}}\ncontainers: {c: {networks: [b, a]}}\n")
    again = from_dict(topo.to_dict())
    assert [ep.network for ep in again.endpoints_of("c")] == ["b", "a"]
    swapped = load_text("hosts: [h1]\nnetworks: {a: {}, b: {}}\ncontainers: {c: {networks: [a, b]}}\n")
    assert swapped != topo

