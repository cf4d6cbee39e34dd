"""Topology builder: records in a networkx graph, referential consistency, errors."""

from __future__ import annotations

import networkx as nx
import pytest

from netlab import ConflictError, InvalidRequestError, NotFoundError, PortMapping, Topology


def small() -> Topology:
    topo = Topology("t")
    topo.add_host("h1")
    topo.add_host("h2")
    topo.add_network("front", subnet="10.0.1.0/24")
    topo.add_network("ov", driver="overlay")
    topo.add_sandbox("web", host="h1", ports=["8080:80/tcp"])
    topo.add_sandbox("db", host="h2")
    topo.connect("web", "front", ip="10.0.1.10", aliases=["www"])
    topo.connect("web", "ov")
    topo.connect("db", "ov")
    return topo


class TestGraph:
    def test_nodes_and_edges_are_typed(self) -> None:
        topo = small()
        graph = topo.graph
        assert graph.nodes[("host", "h1")]["kind"] == "host"
        assert graph.nodes[("network", "ov")]["record"].driver == "overlay"
        assert graph.has_edge(("sandbox", "web"), ("network", "front"), "endpoint")
        assert graph.has_edge(("sandbox", "web"), ("host", "h1"), "placement")

    def test_networkx_algorithms_work_on_it(self) -> None:
        topo = small()
        path = nx.shortest_path(topo.graph, ("sandbox", "web"), ("sandbox", "db"))
        assert path == [("sandbox", "web"), ("network", "ov"), ("sandbox", "db")]

    def test_endpoint_order_is_connect_order(self) -> None:
        topo = small()
        assert [ep.network for ep in topo.endpoints_of("web")] == ["front", "ov"]
        topo.disconnect("web", "front")
        topo.connect("web", "front")
        assert [ep.network for ep in topo.endpoints_of("web")] == ["ov", "front"]


class TestBuilder:
    def test_duplicates_conflict(self) -> None:
        topo = small()
        with pytest.raises(ConflictError, match="host 'h1' already exists"):
            topo.add_host("h1")
        with pytest.raises(ConflictError, match="already connected"):
            topo.connect("web", "ov")

    def test_dangling_references_are_refused(self) -> None:
        topo = small()
        with pytest.raises(NotFoundError, match="host 'h9'"):
            topo.add_sandbox("x", host="h9")
        with pytest.raises(NotFoundError, match="network 'nope'"):
            topo.connect("web", "nope")
        with pytest.raises(NotFoundError, match="host 'h9'"):
            topo.add_network("n", host="h9")
        assert not topo.has("sandbox", "x") and not topo.has("network", "n")

    def test_remove_network_refused_while_in_use(self) -> None:
        topo = small()
        with pytest.raises(ConflictError, match="active endpoints: web, db"):
            topo.remove_network("ov")
        topo.remove_network("ov", force=True)
        assert [ep.network for ep in topo.endpoints_of("web")] == ["front"]

    def test_remove_sandbox_removes_its_endpoints(self) -> None:
        topo = small()
        topo.remove_sandbox("web")
        assert [ep.sandbox for ep in topo.endpoints_on("ov")] == ["db"]
        assert topo.endpoints_on("front") == []

    def test_remove_host_refused_while_used(self) -> None:
        topo = small()
        with pytest.raises(ConflictError, match="web"):
            topo.remove_host("h1")
        topo.remove_sandbox("web")
        topo.remove_host("h1")
        assert [h.name for h in topo.hosts] == ["h2"]

    def test_updates_replace_records(self) -> None:
        topo = small()
        topo.update_network("front", subnet="10.0.2.0/24")
        assert topo.network("front").subnet == "10.0.2.0/24"
        topo.update_endpoint("web", "front", ip="10.0.2.5")
        assert topo.endpoint("web", "front").ip == "10.0.2.5"

    def test_lookups_raise_not_found(self) -> None:
        topo = small()
        with pytest.raises(NotFoundError):
            topo.sandbox("ghost")
        with pytest.raises(NotFoundError):
            topo.endpoint("db", "front")


class TestPlacement:
    def test_network_hosts(self) -> None:
        topo = small()
        assert topo.network_hosts("ov") == ["h1", "h2"]
        topo.add_network("local", host="h2")
        assert topo.network_hosts("local") == ["h2"]

    def test_single_host_is_implicit(self) -> None:
        topo = Topology("one")
        topo.add_host("only")
        topo.add_network("n")
        topo.add_sandbox("s")
        assert topo.host_of("s") == "only"
        assert topo.network_hosts("n") == ["only"]

    def test_scope(self) -> None:
        topo = small()
        assert topo.network("ov").scope == "global"
        assert topo.network("front").scope == "local"


class TestPortMapping:
    @pytest.mark.parametrize(
        ("spec", "expected"),
        [
            ("8080:80", PortMapping(8080, 80, "tcp")),
            ("53:53/udp", PortMapping(53, 53, "udp")),
            ("127.0.0.1:8443:443/tcp", PortMapping(8443, 443, "tcp", "127.0.0.1")),
        ],
    )
    def test_parse(self, spec: str, expected: PortMapping) -> None:
        assert PortMapping.parse(spec) == expected
        assert PortMapping.parse(str(expected)) == expected

    @pytest.mark.parametrize("spec", ["80", "0:80", "80:65536", "a:b", "80:80/icmp", ""])
    def test_bad(self, spec: str) -> None:
        with pytest.raises(InvalidRequestError):
            PortMapping.parse(spec)


def test_equality_and_repr() -> None:
    assert small() == small()
    other = small()
    other.update_endpoint("web", "front", ip="10.0.1.11")
    assert small() != other
    assert "2 hosts" in repr(small())
