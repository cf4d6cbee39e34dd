"""Overlay (VXLAN) and macvlan networks across lab hosts, on the real kernel; the simulator agrees.

Every test deploys labs with unique names; the fixture removes them and checks
no namespace is left, even when the test fails.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from netlab.backends.simulated import SimulatedBackend
from netlab.controller import Controller
from netlab.model import Topology
from netlab.store import SqliteStore
from netlab.validation import load_valid
from tests.kernel_helpers import lab_namespaces, ping, topology, unique_lab
from tests.test_deploy_kernel import INTERNET, Deploy, _comparable, sbx

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("kernel_ok")]

ROOT = Path(__file__).parent.parent


def demo() -> Topology:
    topo, _ = load_valid(ROOT / "scenarios" / "multihost-demo.yaml")
    topo.name = unique_lab()
    return topo


def test_multihost_demo_reachability_and_isolation(deploy: Deploy) -> None:
    topo = demo()
    deploy(topo)
    assert ping(sbx(topo, "web1"), "10.10.10.3")  # web2 on h2
    assert ping(sbx(topo, "web3"), "10.10.10.2")  # web1 on h1
    assert ping(sbx(topo, "db2"), "10.10.20.4")   # db3 on h3
    assert not ping(sbx(topo, "web1"), "10.10.20.2")  # db1, other overlay, same host
    assert not ping(sbx(topo, "web2"), "10.10.20.4")


def test_external_connectivity_through_the_gateway_bridge(deploy: Deploy) -> None:
    topo = demo()
    deploy(topo)
    assert ping(sbx(topo, "web2"), INTERNET)
    assert ping(sbx(topo, "db3"), INTERNET)


def test_internal_overlay_cannot_leave(deploy: Deploy) -> None:
    topo = topology("hosts: [h1, h2]\nnetworks:\n  vault: {driver: overlay, internal: true, subnet: 10.66.0.0/24}\n"
                    "containers:\n  a: {host: h1, networks: [vault]}\n  b: {host: h2, networks: [vault]}\n")
    deploy(topo)
    assert ping(sbx(topo, "a"), "10.66.0.3")
    assert not ping(sbx(topo, "a"), INTERNET)


def test_two_overlays_with_the_same_subnet_at_once(deploy: Deploy) -> None:
    topo = topology("hosts: [h1, h2]\nnetworks:\n  red: {driver: overlay, subnet: 10.67.0.0/24}\n"
                    "  blue: {driver: overlay, subnet: 10.67.0.0/24}\n"
                    "containers:\n  r1: {host: h1, networks: [red]}\n  r2: {host: h2, networks: [red]}\n"
                    "  b1: {host: h1, networks: [blue]}\n  b2: {host: h2, networks: [blue]}\n")
    deploy(topo)
    # same addresses on both overlays: each pair reaches its own peer
    assert ping(sbx(topo, "r1"), "10.67.0.3") and ping(sbx(topo, "b1"), "10.67.0.3")
    arp = subprocess.run(["nsenter", f"--net=/run/netns/{sbx(topo, 'r1')}", "ip", "neigh"],
                                       capture_output=True, text=True, check=True).stdout
    assert "02:42:0a:43:00:03" in arp


def test_mtu_is_underlay_minus_50(deploy: Deploy) -> None:
    topo = demo()
    deploy(topo)
    payload = 1450 - 28
    assert ping(sbx(topo, "web1"), "10.10.10.4", extra=("-M", "do", "-s", str(payload)))
    assert not ping(sbx(topo, "web1"), "10.10.10.4", extra=("-M", "do", "-s", str(payload + 1)))


def _bridge_netfilter(ns: str) -> str:
    """``net.bridge.bridge-nf-call-iptables`` in ``ns`` ("" when br_netfilter is not loaded)."""
    path = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
    out = subprocess.run(["nsenter", f"--net=/run/netns/{ns}", "cat", str(path)], capture_output=True, text=True,
                         check=False)
    return out.stdout.strip()


def test_bridge_netfilter_is_off_only_where_no_rules_live(deploy: Deploy) -> None:
    topo = demo()
    deploy(topo)
    overlay_ns = [ns for ns in lab_namespaces(topo.name) if ns.startswith(f"nl-{topo.name}-o-")]
    hosts = [ns for ns in lab_namespaces(topo.name) if ns.startswith(f"nl-{topo.name}-h-")]
    assert overlay_ns and hosts
    if _bridge_netfilter(hosts[0]) == "":
        pytest.skip("br_netfilter is not loaded: bridged frames pass no IP hooks anywhere")
    assert {_bridge_netfilter(ns) for ns in [*overlay_ns, f"nl-{topo.name}-underlay"]} == {"0"}
    assert {_bridge_netfilter(ns) for ns in hosts} == {"1"}   # host bridges keep their ICC / isolation rules
    assert ping(sbx(topo, "web1"), "10.10.10.4")


def test_container_moved_to_another_host_peers_follow(deploy: Deploy) -> None:
    text = ("hosts: [h1, h2, h3]\nnetworks:\n  ov: {driver: overlay, subnet: 10.68.0.0/24}\n"
            "containers:\n  a: {host: h1, networks: [ov]}\n  b: {host: h2, networks: [ov]}\n"
            "  c: {host: HOST, networks: [ov]}\n")
    topo = topology(text.replace("HOST", "h3"))
    controller = deploy(topo)
    assert ping(sbx(topo, "a"), "10.68.0.4")
    moved = topology(text.replace("HOST", "h2"))
    moved.name = topo.name
    change = controller.up(moved)
    assert "ep/a/ov" in change.kept and "peer/ov/b@h1" in change.kept
    assert "peer/ov/c@h1" in change.created and "peer/ov/c@h1" in change.removed
    # no learning on the VXLAN bridge port: the others reach the moved container before it says anything
    assert ping(sbx(topo, "a"), "10.68.0.4") and ping(sbx(topo, "b"), "10.68.0.4")
    assert ping(sbx(topo, "c"), "10.68.0.2") and ping(sbx(topo, "c"), "10.68.0.3")
    learning = subprocess.run(["nsenter", f"--net=/run/netns/nl-{topo.name}-o-ov-h2", "ip", "-d", "link", "show",
                               "vx-000100"], capture_output=True, text=True, check=True).stdout
    assert "learning off" in learning
    gone = topology(text.replace("  c: {host: HOST, networks: [ov]}\n", ""))
    gone.name = topo.name
    controller.up(gone)
    assert not ping(sbx(topo, "a"), "10.68.0.4")
    assert ping(sbx(topo, "a"), "10.68.0.3")


def test_macvlan_containers_on_two_hosts(deploy: Deploy) -> None:
    topo = topology("hosts: [h1, h2]\nnetworks:\n  lan: {driver: macvlan}\n"
                    "containers:\n  m1: {host: h1, networks: [lan]}\n  m2: {host: h2, networks: [lan]}\n")
    deploy(topo)
    assert ping(sbx(topo, "m1"), "192.0.2.3")
    assert ping(sbx(topo, "m2"), "192.0.2.2")
    assert ping(sbx(topo, "m1"), INTERNET)  # the underlay's gateway is the internet namespace


@pytest.mark.parametrize("name", ["multihost-demo", "two-host-overlay", "three-host-mix"])
def test_simulator_builds_the_same_objects_as_the_kernel(name: str, deploy: Deploy) -> None:
    topo, _ = load_valid(ROOT / "scenarios" / f"{name}.yaml")
    topo.name = unique_lab()
    controller = deploy(topo)
    names = lab_namespaces(topo.name)
    kernel = controller.backend.snapshot(names)
    simulated = SimulatedBackend()
    Controller(topo.name, simulated, SqliteStore(":memory:")).up(topo)
    assert sorted(simulated.namespaces()) == names
    assert _comparable(simulated.snapshot(names)) == _comparable(kernel)
