"""The harness's model side: namespaces, targets, hosts files, the reachability the model implies, check kinds."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from netlab.addressing import allocate
from netlab.checks import describe, evaluate
from netlab.errors import InvalidRequestError, NotFoundError
from netlab.harness_matrix import expected_matrix
from netlab.harness_model import DeployedLab, addressing_from_dict
from netlab.lab import with_gateway_bridges
from netlab.loading import load_text
from netlab.model import Check
from netlab.probes import Listener

RICH = """
hosts: [h1, h2]
networks:
  front: {host: h1, subnet: 10.79.1.0/24}
  quiet: {host: h1, subnet: 10.79.2.0/24, options: {com.docker.network.bridge.enable_icc: "false"}}
  vault: {host: h1, subnet: 10.79.3.0/24, internal: true}
  nonat: {host: h1, subnet: 10.79.4.0/24, options: {com.docker.network.bridge.enable_ip_masquerade: "false"}}
  far: {host: h2, subnet: 10.79.5.0/24}
  ov: {driver: overlay, subnet: 10.79.6.0/24}
  wire: {driver: macvlan}
  hostnet: {driver: host, host: h1}
  none: {driver: "null", host: h1}
containers:
  a: {host: h1, networks: {front: {aliases: [alpha]}}}
  x: {host: h1, networks: [front, vault]}
  q1: {host: h1, networks: [quiet]}
  q2: {host: h1, networks: [quiet]}
  i1: {host: h1, networks: [vault]}
  n1: {host: h1, networks: [nonat]}
  z: {host: h2, networks: [far]}
  o1: {host: h1, networks: [ov]}
  o2: {host: h2, networks: [ov]}
  m1: {host: h1, networks: [wire]}
  m2: {host: h1, networks: [wire]}
  m3: {host: h2, networks: [wire]}
  hs: {host: h1, networks: [hostnet]}
  nul: {host: h1, networks: [none]}
"""

#: what a ping from each row reaches (sandbox@network), as measured on the kernel (tests/test_scenario_kernel.py
#: checks the kernel still agrees with the model on this topology)
RICH_REACHES = {
    "a": {"hs@host", "m3@wire", "x@front"},
    "hs": {"a@front", "i1@vault", "m3@wire", "n1@nonat", "o1@docker_gwbridge-h1", "q1@quiet", "q2@quiet", "x@front",
           "x@vault"},
    "i1": {"x@vault"},
    "m1": {"m2@wire", "m3@wire"},
    "m2": {"m1@wire", "m3@wire"},
    "m3": {"hs@host", "m1@wire", "m2@wire"},
    "n1": {"hs@host"},
    "nul": set(),
    "o1": {"hs@host", "m3@wire", "o2@ov"},
    "o2": {"hs@host", "m1@wire", "m2@wire", "o1@ov"},
    "q1": {"hs@host", "m3@wire"},
    "q2": {"hs@host", "m3@wire"},
    "x": {"a@front", "hs@host", "i1@vault", "m3@wire"},
    "z": {"hs@host", "m1@wire", "m2@wire"},
}


def view_of(text: str, lab: str = "t") -> DeployedLab:
    topo = load_text(text)
    deployable = with_gateway_bridges(topo)
    return DeployedLab(lab, topo, allocate(deployable))


def reaches(view: DeployedLab) -> dict[str, set[str]]:
    result = expected_matrix(view)
    return {src: {f"{col.sandbox}@{col.network}" for col, want in zip(result.columns, row, strict=True) if want}
            for src, row in zip(result.sources, result.expected, strict=True)}


def test_the_model_implies_dockers_reachability() -> None:
    assert reaches(view_of(RICH)) == RICH_REACHES


def test_macvlan_private_mode_keeps_children_of_one_parent_apart() -> None:
    view = view_of(RICH.replace("wire: {driver: macvlan}", "wire: {driver: macvlan, options: {macvlan_mode: private}}"))
    found = reaches(view)
    assert found["m1"] == {"m3@wire"} and found["m3"] == {"hs@host", "m1@wire", "m2@wire"}


def test_overlapping_overlays_never_reach_the_other_owner_of_an_address() -> None:
    view = view_of("hosts: [h1, h2]\nnetworks:\n  blue: {driver: overlay, subnet: 10.70.0.0/24}\n"
                   "  green: {driver: overlay, subnet: 10.70.0.0/24}\ncontainers:\n"
                   "  b1: {host: h1, networks: {blue: {ip: 10.70.0.10}}}\n"
                   "  b2: {host: h2, networks: {blue: {ip: 10.70.0.20}}}\n"
                   "  g1: {host: h1, networks: {green: {ip: 10.70.0.20}}}\n"
                   "  g2: {host: h2, networks: {green: {ip: 10.70.0.10}}}\n")
    found = reaches(view)
    assert found["b1"] == {"b2@blue"} and found["g2"] == {"g1@green"}
    result = expected_matrix(view)
    assert result.pairs == 4 * 8 - 8  # 4 rows x 8 addresses (overlay + gateway bridge each), minus their own


def test_matrix_result_lists_disagreements_and_folds_to_sandbox_pairs() -> None:
    view = view_of("hosts: [h1]\nnetworks: {n: {subnet: 10.1.0.0/24}}\n"
                   "containers: {a: {networks: [n]}, b: {networks: [n]}}\n")
    result = expected_matrix(view)
    assert result.expected == [[None, True], [True, None]]
    result.observed = [[True, False], [True, True]]
    assert [(s, c.sandbox, w, g) for s, c, w, g in result.disagreements()] == [("a", "b", True, False)]
    labels, observed, expected = result.by_sandbox()
    assert labels == ["a", "b"]
    assert observed == [[True, False], [True, True]]
    assert expected == [[True, True], [True, True]]  # no claim about a sandbox and itself: the observation


def test_namespaces_and_places() -> None:
    view = view_of(RICH, lab="lab7")
    assert view.sandbox_ns("a") == "nl-lab7-s-a"
    assert view.sandbox_ns("hs") == "nl-lab7-h-h1"  # the host driver shares the host's namespace
    assert view.internet_ns == "nl-lab7-internet" and view.internet_ip == "192.0.2.1"
    assert view.host_ip("h2") == "192.0.2.12"
    assert "nul" in view.sandboxes and view.columns("nul") == []
    assert [c.network for c in view.columns("o1")] == ["ov", "docker_gwbridge-h1"]
    assert view.sandbox("alpha") == "a"
    with pytest.raises(NotFoundError, match="no container or alias 'ghost'"):
        view.sandbox("ghost")


def test_targets_by_name_alias_network_and_address() -> None:
    view = view_of(RICH, lab="l")
    x_front = str(view.addressing.endpoints[("x", "front")].ip.ip)
    x_vault = str(view.addressing.endpoints[("x", "vault")].ip.ip)
    assert view.target("a", "x").ip == x_front          # the network they share
    assert view.target("i1", "x").ip == x_vault
    assert view.target("z", "x").ip == x_front          # nothing shared: x's first address
    assert view.target("a", "x", network="vault").ip == x_vault
    alpha = view.target("x", "alpha")
    assert (alpha.ns, alpha.label) == ("nl-l-s-a", f"a {alpha.ip}")
    assert view.target("a", x_vault).ns == "nl-l-s-x"
    assert view.target("a", "192.0.2.1").ns == "nl-l-internet"
    assert view.target("a", "192.0.2.11").ns == "nl-l-h-h1"
    assert view.target("a", "203.0.113.9").ns is None
    with pytest.raises(NotFoundError, match="'a' is not a container or alias on network 'vault'"):
        view.target("x", "a", network="vault")
    with pytest.raises(InvalidRequestError, match="no address"):
        view.target("a", "nul")


def test_hosts_files_follow_connect_order_and_keep_aliases_on_their_network() -> None:
    view = view_of("hosts: [h1]\nnetworks:\n  front: {subnet: 10.1.1.0/24}\n  back: {subnet: 10.1.2.0/24}\n"
                   "containers:\n  web: {networks: {front: {ip: 10.1.1.10, aliases: [www]}, back: {ip: 10.1.2.10}}}\n"
                   "  app: {networks: {back: {ip: 10.1.2.20}, front: {ip: 10.1.1.20}}}\n"
                   "  db: {networks: {back: {ip: 10.1.2.30, aliases: [data]}}}\n")
    assert view.hosts_entries("app") == [("10.1.2.30", ["db", "data"]), ("10.1.2.10", ["web"]),
                                         ("10.1.1.10", ["web", "www"])]
    assert view.expected_address("app", "web") == "10.1.2.10"  # app's first network is back
    assert view.expected_address("web", "app") == "10.1.1.20"
    assert view.expected_address("app", "www") == "10.1.1.10"
    assert view.expected_address("web", "data") == "10.1.2.30"
    assert view.expected_address("db", "www") is None  # www is an alias on front only
    assert view.expected_address("db", "db") is None


def test_gateway_bridges_give_no_names() -> None:
    view = view_of("hosts: [h1]\nnetworks: {a: {driver: overlay}, b: {driver: overlay}}\n"
                   "containers: {x: {networks: [a]}, y: {networks: [b]}}\n")
    assert view.hosts_entries("x") == [] and view.expected_address("x", "y") is None


def test_addressing_round_trips_through_the_store_form() -> None:
    addressing = allocate(with_gateway_bridges(load_text(RICH)))
    assert addressing_from_dict(addressing.to_dict()) == addressing


@pytest.mark.parametrize(("check", "label"), [
    (Check("reach", {"from": "a", "to": "b", "network": "n"}, ""), "reach a -> b on n"),
    (Check("isolated", {"from": "a", "to": "b"}, ""), "isolated a -> b"),
    (Check("udp", {"from": "a", "to": "b", "port": 53}, ""), "udp a -> b:53"),
    (Check("names", {"from": "a", "names": ["b", "c"]}, ""), "names in a: b, c"),
    (Check("mtu", {"from": "a", "to": "b", "expect": 1450}, ""), "mtu a -> b"),
    (Check("external", {"from": "a"}, ""), "external a"),
    (Check("published", {"host": "h1", "port": 53, "protocol": "udp", "from": "h2"}, ""),
     "published h1:53/udp from h2"),
    (Check("reachability", {}, ""), "reachability full"),
])
def test_check_labels(check: Check, label: str) -> None:
    assert describe(check) == label


class TableProber:
    """Answers from a table of what is reachable, and records every question (a prober for unit tests)."""

    name = "table"

    def __init__(self, reachable: set[tuple[str, str]], listening: set[tuple[str, int, str]] = frozenset(),
                 names: dict[str, str] | None = None, mtu: int | None = 1500) -> None:
        self.reachable, self.listening, self.names, self.mtu = reachable, set(listening), names or {}, mtu
        self.asked: list[tuple[object, ...]] = []

    def ping(self, src: str, ip: str, responder: str | None = None) -> bool:
        self.asked.append(("ping", src, ip, responder))
        return (src, ip) in self.reachable

    def connect(self, src: str, ip: str, port: int, proto: str, listener: Listener | None) -> bool:
        self.asked.append(("connect", src, ip, port, proto, listener))
        return (src, ip) in self.reachable and listener is not None and (
            listener.ns, listener.port, listener.proto) in self.listening

    def largest_df(self, src: str, ip: str, responder: str | None = None) -> int | None:
        self.asked.append(("mtu", src, ip, responder))
        return self.mtu if (src, ip) in self.reachable else None

    def matrix(self, sources: Sequence[str], targets: Sequence[tuple[str, str]]) -> list[list[bool]]:
        return [[(src, ip) in self.reachable for _, ip in targets] for src in sources]

    def resolve(self, src: str, name: str) -> str | None:
        return self.names.get(name)

    def explain(self, src: str, ip: str, proto: str = "icmp", port: int | None = None) -> str:
        return f"walked {src} -> {ip}"


PUBLISH = ("hosts: [h1, h2]\nnetworks: {n: {host: h1, subnet: 10.2.0.0/24}}\n"
           "containers:\n  web: {host: h1, networks: {n: {ip: 10.2.0.10}}, ports: ['8080:80', '5353:53/udp']}\n"
           "  app: {host: h1, networks: {n: {ip: 10.2.0.20, aliases: [api]}}}\n")


def test_published_check_serves_in_the_publishing_container_and_connects_from_the_source() -> None:
    view = view_of(PUBLISH, lab="p")
    prober = TableProber({("nl-p-internet", "192.0.2.11"), ("nl-p-h-h2", "192.0.2.11")},
                         {("nl-p-s-web", 53, "udp")})
    out = evaluate(view, prober, Check("published", {"host": "h1", "port": 5353, "protocol": "udp"}, "e[0]"))
    assert out.passed and (out.expected, out.observed) == ("answers", "answers")
    assert prober.asked == [("connect", "nl-p-internet", "192.0.2.11", 5353, "udp", Listener("nl-p-s-web", 53, "udp"))]
    out = evaluate(view, prober, Check("published", {"host": "h1", "port": 8080, "from": "h2"}, "e[1]"))
    assert not out.passed and out.observed == "no answer"  # nothing listens on web's port 80 in this table
    assert "walked nl-p-h-h2 -> 192.0.2.11" in out.detail and "server in nl-p-s-web port 80" in out.detail
    out = evaluate(view, prober, Check("published", {"host": "h1", "port": 9, "expect": "fail"}, "e[2]"))
    assert out.passed and "no container publishes it" in out.detail


def test_ping_connect_names_mtu_and_external_checks() -> None:
    view = view_of(PUBLISH, lab="p")
    app, web = "nl-p-s-app", "nl-p-s-web"
    prober = TableProber({(app, "10.2.0.10"), (web, "10.2.0.20"), (app, "192.0.2.1")}, {(web, 80, "tcp")},
                         {"web": "10.2.0.10"}, mtu=1400)
    assert evaluate(view, prober, Check("reach", {"from": "api", "to": "web"}, "e")).passed
    assert prober.asked[-1] == ("ping", app, "10.2.0.10", web)
    assert not evaluate(view, prober, Check("isolated", {"from": "app", "to": "web"}, "e")).passed
    assert evaluate(view, prober, Check("tcp", {"from": "app", "to": "web", "port": 80}, "e")).passed
    assert evaluate(view, prober, Check("udp", {"from": "app", "to": "web", "port": 80, "expect": "fail"}, "e")).passed
    names = evaluate(view, prober, Check("names", {"from": "web", "names": ["app", "api"]}, "e"))
    assert not names.passed and names.observed == "app=unresolved, api=unresolved"
    assert names.expected == "app=10.2.0.20, api=10.2.0.20"
    assert evaluate(view, prober, Check("names", {"from": "app", "names": ["web"]}, "e")).passed
    mtu = evaluate(view, prober, Check("mtu", {"from": "app", "to": "web", "expect": 1500}, "e"))
    assert (mtu.passed, mtu.observed) == (False, "1400")
    assert evaluate(view, prober, Check("external", {"from": "app"}, "e")).passed
    assert evaluate(view, prober, Check("external", {"from": "web", "expect": "fail"}, "e")).passed
    with pytest.raises(InvalidRequestError, match="cannot start a server"):
        evaluate(view, prober, Check("tcp", {"from": "app", "to": "203.0.113.1", "port": 80}, "e[9]"))


def test_reachability_check_names_every_disagreeing_pair() -> None:
    view = view_of("hosts: [h1]\nnetworks: {n: {subnet: 10.3.0.0/24}}\n"
                   "containers: {a: {networks: {n: {ip: 10.3.0.2}}}, b: {networks: {n: {ip: 10.3.0.3}}}}\n", lab="r")
    out = evaluate(view, TableProber({("nl-r-s-a", "10.3.0.3")}), Check("reachability", {}, "e"))
    assert not out.passed and out.observed == "1 pair(s) differ"
    assert out.detail == "b -> a 10.3.0.2 (n): expected reachable, observed no answer"
    both = TableProber({("nl-r-s-a", "10.3.0.3"), ("nl-r-s-b", "10.3.0.2")})
    assert evaluate(view, both, Check("reachability", {}, "e")).passed
