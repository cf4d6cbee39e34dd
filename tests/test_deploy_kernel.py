"""Bridge, null and host drivers on the real kernel (root), and the same deploys on the simulator.

Every test deploys a lab with a unique name, and its fixture removes the lab
and checks that no namespace of it is left, even when the test fails.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from netlab.backends import Snapshot
from netlab.backends.simulated import SimulatedBackend
from netlab.controller import Controller
from netlab.model import Topology
from netlab.naming import host_netns, internet_netns, sandbox_netns
from netlab.store import SqliteStore
from netlab.validation import load_valid
from tests.kernel_helpers import connect, lab_namespaces, listener, peer_seen, ping, topology, unique_lab

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("kernel_ok")]

ROOT = Path(__file__).parent.parent
INTERNET = "192.0.2.1"
H1 = "192.0.2.11"

Deploy = Callable[[Topology], Controller]


def sbx(topo: Topology, name: str) -> str:
    return sandbox_netns(topo.name, name)


ONE_BRIDGE = """
hosts: [h1]
networks:
  front: {subnet: 10.77.1.0/24}
containers:
  a: {networks: [front]}
  b: {networks: [front]}
"""


def test_two_containers_on_one_bridge_reach_each_other(deploy: Deploy) -> None:
    topo = topology(ONE_BRIDGE)
    deploy(topo)
    assert ping(sbx(topo, "a"), "10.77.1.3")
    assert ping(sbx(topo, "b"), "10.77.1.2")


def test_two_bridge_networks_are_isolated(deploy: Deploy) -> None:
    topo = topology("hosts: [h1]\nnetworks:\n  red: {subnet: 10.77.2.0/24}\n  blue: {subnet: 10.77.3.0/24}\n"
                    "containers:\n  r: {networks: [red]}\n  b: {networks: [blue]}\n  both: {networks: [red, blue]}\n")
    deploy(topo)
    assert not ping(sbx(topo, "r"), "10.77.3.2")
    assert not ping(sbx(topo, "b"), "10.77.2.2")
    assert ping(sbx(topo, "both"), "10.77.3.2") and ping(sbx(topo, "both"), "10.77.2.2")


def test_icc_off_drops_traffic_inside_the_network(deploy: Deploy) -> None:
    topo = topology("hosts: [h1]\nnetworks:\n  quiet:\n    subnet: 10.77.4.0/24\n"
                    "    options: {com.docker.network.bridge.enable_icc: 'false'}\n"
                    "containers:\n  a: {networks: [quiet]}\n  b: {networks: [quiet]}\n")
    deploy(topo)
    assert not ping(sbx(topo, "a"), "10.77.4.3")
    assert ping(sbx(topo, "a"), INTERNET)  # the way out still works


def test_internal_network_works_inside_and_has_no_way_out(deploy: Deploy) -> None:
    topo = topology("hosts: [h1]\nnetworks:\n  in: {subnet: 10.77.5.0/24, internal: true}\n"
                    "containers:\n  a: {networks: [in]}\n  b: {networks: [in]}\n")
    deploy(topo)
    assert ping(sbx(topo, "a"), "10.77.5.3")
    assert not ping(sbx(topo, "a"), INTERNET)
    routes = subprocess.run(["nsenter", f"--net=/run/netns/{sbx(topo, 'a')}", "ip", "route"], capture_output=True,
                            text=True, check=True).stdout
    assert "default" not in routes


def test_masquerade_seen_from_the_internet(deploy: Deploy) -> None:
    topo = topology(ONE_BRIDGE)
    deploy(topo)
    with listener(internet_netns(topo.name), 9000) as server:
        result = connect(sbx(topo, "a"), INTERNET, 9000)
        assert result.stdout.strip() == "netlab", result.stdout + result.stderr
        assert peer_seen(server) == H1


def test_published_port_answers_from_outside_and_from_another_host(deploy: Deploy) -> None:
    topo = topology("hosts: [h1, h2]\nnetworks:\n  front: {host: h1, subnet: 10.77.6.0/24}\n"
                    "  edge: {host: h2, subnet: 10.77.7.0/24}\n"
                    "containers:\n  web: {host: h1, networks: [front], ports: ['8080:80/tcp']}\n"
                    "  client: {host: h2, networks: [edge]}\n")
    deploy(topo)
    with listener(sbx(topo, "web"), 80) as server:
        from_internet = connect(internet_netns(topo.name), H1, 8080)
        assert from_internet.stdout.strip() == "netlab", from_internet.stdout + from_internet.stderr
        assert peer_seen(server) == INTERNET
        from_h2 = connect(host_netns(topo.name, "h2"), H1, 8080)
        assert from_h2.stdout.strip() == "netlab"
        from_container = connect(sbx(topo, "client"), H1, 8080)
        assert from_container.stdout.strip() == "netlab"
        assert connect(internet_netns(topo.name), H1, 8081, timeout=1).returncode != 0


def test_null_and_host_drivers(deploy: Deploy) -> None:
    topo = topology("hosts: [h1]\nnetworks:\n  none: {driver: 'null'}\n  hostnet: {driver: host}\n"
                    "containers:\n  alone: {networks: [none]}\n  shared: {networks: [hostnet]}\n")
    controller = deploy(topo)
    links = subprocess.run(["nsenter", f"--net=/run/netns/{sbx(topo, 'alone')}", "ip", "-o", "link"],
                           capture_output=True, text=True, check=True).stdout
    assert [line.split(":")[1].strip() for line in links.splitlines()] == ["lo"]
    assert controller.sandbox_namespace("shared") == host_netns(topo.name, "h1")
    assert not Path(f"/run/netns/{sbx(topo, 'shared')}").exists()


def test_reconcile_keeps_untouched_objects(deploy: Deploy) -> None:
    from netlab.backends.kernel import KernelBackend

    topo = topology(ONE_BRIDGE)
    controller = deploy(topo)
    backend = controller.backend
    assert isinstance(backend, KernelBackend)
    names = lab_namespaces(topo.name)
    before = backend.snapshot(names)
    bigger = topology(ONE_BRIDGE + "  c: {networks: [front]}\n")
    bigger.name = topo.name
    change = controller.up(bigger)
    assert set(change.created) == {"ns/sbx/c", "ep/c/front", "route/c"}
    after = backend.snapshot(names)
    for ns in names:
        assert {n: (lk.ifindex, lk.mac) for n, lk in after[ns].links.items()
                if not n.startswith("ve-c")} == {n: (lk.ifindex, lk.mac) for n, lk in before[ns].links.items()}
    assert ping(sbx(topo, "c"), "10.77.1.2")


# -- killed deploys ------------------------------------------------------------------------
KILL_LAB = """
hosts: [h1, h2]
networks:
  front: {host: h1}
  back: {host: h2, internal: true}
containers:
""" + "".join(f"  c{i}: {{host: h{1 + i % 2}, networks: [{'front' if i % 2 == 0 else 'back'}]}}\n" for i in range(16))


def test_sigkill_at_random_points_then_down_leaves_nothing(tmp_path: Path) -> None:
    lab = unique_lab()
    scenario = tmp_path / "kill.yaml"
    scenario.write_text(f"name: {lab}\n" + KILL_LAB)
    env = {**os.environ, "NETLAB_STATE_DIR": str(tmp_path / "state")}
    cli = [sys.executable, "-m", "netlab"]
    start = time.monotonic()
    subprocess.run([*cli, "up", str(scenario), "--backend", "kernel"], env=env, check=True, capture_output=True)
    full = time.monotonic() - start
    subprocess.run([*cli, "down", lab], env=env, check=True, capture_output=True)
    rng = random.Random(20261202)
    root_links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    try:
        for _ in range(10):
            proc = subprocess.Popen([*cli, "up", str(scenario), "--backend", "kernel"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.05, full))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            subprocess.run([*cli, "down", lab], env=env, check=True, capture_output=True)
            assert lab_namespaces(lab) == []
            assert subprocess.run(["ip", "-o", "link"], capture_output=True, text=True,
                                  check=True).stdout == root_links
    finally:
        subprocess.run([*cli, "down", lab], env=env, check=False, capture_output=True)
    assert lab_namespaces(lab) == []


# -- the simulator agrees with the kernel -----------------------------------------------------
def _comparable(snapshot: Snapshot) -> dict[str, object]:
    return {ns: (state.links, state.addresses, state.routes, state.sysctls, state.ruleset, state.fdb,
                 state.neighbours) for ns, state in snapshot.items()}


AGREEMENT_CASES = {
    "icc-off-and-internal": "hosts: [h1]\nnetworks:\n  quiet:\n    subnet: 10.78.1.0/24\n"
                            "    options: {com.docker.network.bridge.enable_icc: 'false',"
                            " com.docker.network.bridge.enable_ip_masquerade: 'false'}\n"
                            "  in: {internal: true, mtu: 1400}\n"
                            "containers:\n  a: {networks: [quiet, in], ports: ['80:80', '53:53/udp']}\n"
                            "  b: {networks: [in]}\n",
    "null-and-host": "hosts: [h1]\nnetworks:\n  none: {driver: 'null'}\n  hostnet: {driver: host}\n"
                     "containers:\n  alone: {networks: [none]}\n  shared: {networks: [hostnet]}\n",
}


def _both(topo: Topology, deploy: Deploy) -> tuple[Snapshot, Snapshot]:
    controller = deploy(topo)
    names = lab_namespaces(topo.name)
    kernel = controller.backend.snapshot(names)
    simulated = SimulatedBackend()
    Controller(topo.name, simulated, SqliteStore(":memory:")).up(topo)
    assert sorted(simulated.namespaces()) == names
    return simulated.snapshot(names), kernel


@pytest.mark.parametrize("name", ["single-host-bridge", "two-bridges-isolated", "two-host-bridges"])
def test_simulator_builds_the_same_objects_as_the_kernel(name: str, deploy: Deploy) -> None:
    topo, _ = load_valid(ROOT / "scenarios" / f"{name}.yaml")
    topo.name = unique_lab()
    simulated, kernel = _both(topo, deploy)
    assert _comparable(simulated) == _comparable(kernel)


@pytest.mark.parametrize("case", sorted(AGREEMENT_CASES))
def test_simulator_agrees_on_driver_options(case: str, deploy: Deploy) -> None:
    simulated, kernel = _both(topology(AGREEMENT_CASES[case]), deploy)
    assert _comparable(simulated) == _comparable(kernel)


def test_two_labs_with_the_same_subnets_run_side_by_side(deploy: Deploy) -> None:
    first, second = topology(ONE_BRIDGE), topology(ONE_BRIDGE)
    deploy(first)
    deploy(second)
    for topo in (first, second):
        assert ping(sbx(topo, "a"), "10.77.1.3")
    assert set(lab_namespaces(first.name)).isdisjoint(lab_namespaces(second.name))
