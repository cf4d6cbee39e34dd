"""Property-based: random YAML and random topologies never raise anything but netlab's own errors."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netlab import NetlabError, Topology
from netlab.addressing import plan_addresses
from netlab.loading import TOP_KEYS, parse_dict, parse_text
from netlab.validation import find_problems

KEYS = list(TOP_KEYS) + ["driver", "host", "subnet", "gateway", "ip_range", "internal", "mtu", "options",
                         "networks", "ports", "ip", "aliases", "mac", "reach", "from", "to", "port", "h1",
                         "front", "web", "overlay", "bridge", "expect"]
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 70000), st.floats(allow_nan=False),
    st.sampled_from(["10.0.0.0/24", "10.0.0.5", "h1", "front", "web", "overlay", "bridge", "null", "host",
                     "8080:80/tcp", "full", "300.1.1.1", "10.0.0.0/33", "", "02:42:0a:00:00:02"]),
    st.text(max_size=8),
)
DOCS = st.recursive(
    VALUES,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.sampled_from(KEYS), children, max_size=5)),
    max_leaves=30,
)


def check(topo: Topology) -> None:
    try:
        find_problems(topo)
        plan_addresses(topo)
    except NetlabError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCS)
def test_random_documents(doc: Any) -> None:
    topo, problems = parse_dict(doc)
    assert all(p.code for p in problems)
    check(topo)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_text(text: str) -> None:
    topo, _ = parse_text(text)
    check(topo)


@settings(max_examples=100, deadline=None)
@given(DOCS)
def test_random_documents_through_yaml(doc: Any) -> None:
    text = yaml.safe_dump({"hosts": ["h1"], "networks": {"front": doc}, "containers": {"web": doc}})
    topo, _ = parse_text(text)
    check(topo)


NAMES = st.sampled_from(["a", "b", "c", "d", "e"])


@st.composite
def topologies(draw: st.DrawFn) -> Topology:
    topo = Topology("fuzz")
    hosts = draw(st.lists(st.sampled_from(["h1", "h2", "h3"]), unique=True, max_size=3))
    for host in hosts:
        topo.add_host(host)
    for name in draw(st.lists(NAMES, unique=True, max_size=5)):
        driver = draw(st.sampled_from(["bridge", "overlay", "macvlan", "null", "host", "weird"]))
        subnet = draw(st.one_of(st.none(), st.sampled_from(["10.0.0.0/24", "10.0.0.0/16", "10.0.0.0/30",
                                                             "192.0.2.0/25", "bad", "10.0.0.1/24"])))
        host = draw(st.one_of(st.none(), st.sampled_from(hosts))) if hosts else None
        topo.add_network(f"n{name}", driver, host=host, subnet=subnet,
                         gateway=draw(st.one_of(st.none(), st.sampled_from(["10.0.0.1", "10.0.0.0", "x"]))),
                         internal=draw(st.booleans()), mtu=draw(st.one_of(st.none(), st.integers(0, 70000))))
    nets = [n.name for n in topo.networks]
    for name in draw(st.lists(NAMES, unique=True, max_size=5)):
        host = draw(st.one_of(st.none(), st.sampled_from(hosts))) if hosts else None
        topo.add_sandbox(f"s{name}", host=host, ports=draw(st.sampled_from([[], ["80:80"], ["80:81/udp"]])))
        for net in draw(st.lists(st.sampled_from(nets), unique=True, max_size=3)) if nets else []:
            ip = draw(st.one_of(st.none(), st.sampled_from(["10.0.0.5", "10.0.0.5", "10.0.0.255", "1.2.3.4", "z"])))
            topo.connect(f"s{name}", net, ip=ip, aliases=draw(st.sampled_from([[], ["x"], ["sa"]])))
    return topo


@settings(max_examples=200, deadline=None)
@given(topologies())
def test_random_topologies(topo: Topology) -> None:
    problems = find_problems(topo)
    assert all(p.code and p.message for p in problems)
    if not problems:
        from netlab.addressing import allocate
        from netlab.planning import plan_objects

        addressing = allocate(topo)
        plan_objects(topo, addressing)
