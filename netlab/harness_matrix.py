"""The reachability the model implies: which sandbox answers a ping from which, per address.

Rows are sandboxes, columns every address a sandbox answers on
(:meth:`netlab.harness_model.DeployedLab.columns`: its endpoints, gateway-bridge
endpoints included, or its host's address for the ``host`` driver). An entry
is None where the row and the column's sandbox share a namespace (a sandbox
and itself). The rules, Docker's semantics as netlab deploys them:

1. **Same network.** A ping to an address on a network both are on stays on that
   network: a bridge connects its members unless ICC is off
   (``com.docker.network.bridge.enable_icc: "false"``, e.g. the gateway bridges);
   an overlay always (internal or not); a macvlan network across hosts, and on one
   host in ``bridge`` mode. Other drivers connect nobody.
2. **On-link, other network.** An address inside the subnet of one of the row's
   own networks goes out there and meets whoever has it on that network: not the
   column's sandbox (overlapping subnets). On a macvlan network that subnet is the
   underlay: host addresses and macvlan containers answer there (rule 4).
3. **Through the default gateway** (the row's first non-internal bridge or macvlan
   network, as in :func:`netlab.lab.gateway_endpoint`; none: unreachable). Via a
   bridge on host H, the packet is routed by H: another bridge's subnet is dropped
   (Docker's isolation; the forward chain's policy), overlay and other hosts'
   private subnets are not routed anywhere; the underlay is reached (rule 4),
   answers coming back only when the bridge masquerades (H's own address needs no
   NAT).
4. **The underlay.** Host addresses and macvlan containers live on the lab's wire.
   A host can never reach its own macvlan children (the parent-child rule of
   macvlan), nor they it.
5. **Host driver.** A sandbox on the ``host`` network runs in its host's namespace:
   it reaches every bridge on its host directly (filtering applies to forwarded
   traffic only: ICC off and internal networks included), the underlay as a host
   does, and no overlay; it answers on its host's underlay address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

from netlab.drivers import ICC_OPTION, MASQUERADE_OPTION
from netlab.harness_model import Column, DeployedLab
from netlab.lab import gateway_endpoint
from netlab.model import Network

__all__ = ["MatrixResult", "expected_matrix", "model_reaches"]


@dataclass(slots=True)
class MatrixResult:
    """Expected and observed reachability, per (sandbox row, address column)."""

    sources: list[str]
    columns: list[Column]
    expected: list[list[bool | None]]
    observed: list[list[bool]] = field(default_factory=list)

    def _repr_html_(self) -> str:
        from netlab.reprs import matrix_html

        return matrix_html(self)

    def disagreements(self) -> list[tuple[str, Column, bool, bool]]:
        """(row, column, expected, observed) wherever the two differ (shared namespaces skipped)."""
        return [(src, col, want, got)
                for src, wants, gots in zip(self.sources, self.expected, self.observed, strict=True)
                for col, want, got in zip(self.columns, wants, gots, strict=True)
                if want is not None and want != got]

    def by_sandbox(self) -> tuple[list[str], list[list[bool]], list[list[bool]]]:
        """Sandbox x sandbox: (labels, observed, expected); a pair is reachable on any of its addresses.

        Where the model makes no claim (a sandbox and itself) the expectation is the observation.
        """
        labels = list(self.sources)
        where = {name: [j for j, col in enumerate(self.columns) if col.sandbox == name] for name in labels}
        claims = [[got if want is None else want for want, got in zip(wants, gots, strict=True)]
                  for wants, gots in zip(self.expected, self.observed, strict=True)]

        def fold(rows: Sequence[Sequence[bool]]) -> list[list[bool]]:
            return [[any(rows[i][j] for j in where[b]) for b in labels] for i in range(len(labels))]

        return labels, fold(self.observed), fold(claims)

    @property
    def pairs(self) -> int:
        return sum(1 for row in self.expected for want in row if want is not None)


def _option(net: Network, key: str) -> bool:
    return net.options.get(key, "true").lower() == "true"


def _connects(view: DeployedLab, net: Network, a: str, b: str) -> bool:
    if net.driver == "bridge":
        return _option(net, ICC_OPTION)
    if net.driver == "overlay":
        return True
    if net.driver == "macvlan":
        return view.host_of(a) != view.host_of(b) or net.options.get("macvlan_mode", "bridge") == "bridge"
    return False


def _on_underlay_from(view: DeployedLab, host: str, col: Column, *, as_macvlan: Network | None) -> bool:
    """Whether something on ``host``'s wire (the host itself, or a macvlan child when ``as_macvlan``) reaches
    ``col``, an address on the underlay (a host's, or a macvlan container's)."""
    there = view.host_of(col.sandbox)
    if col.network == "host":
        return there != host
    if as_macvlan is not None and there == host:  # two children of one parent: bridge mode only
        mode = view.topo.network(col.network).options.get("macvlan_mode", "bridge")
        return mode == "bridge" and as_macvlan.options.get("macvlan_mode", "bridge") == "bridge"
    return there != host


def _underlay_column(view: DeployedLab, col: Column) -> bool:
    return col.network == "host" or view.topo.network(col.network).driver == "macvlan"


def model_reaches(view: DeployedLab, src: str, col: Column) -> bool | None:
    """Whether a ping from sandbox ``src`` to ``col`` is answered by ``col.sandbox`` (None: same namespace)."""
    if view.sandbox_ns(src) == view.sandbox_ns(col.sandbox):
        return None
    here = view.host_of(src)
    if view.shares_host_ns(src):  # rule 5
        if _underlay_column(view, col):
            return _on_underlay_from(view, here, col, as_macvlan=None)
        net = view.topo.network(col.network)
        return net.driver == "bridge" and view.topo.network_hosts(net.name) == [here]
    mine = view.addressed(src)
    for net, _ in mine:  # rule 1
        if net.name == col.network:
            return _connects(view, net, src, col.sandbox)
    target = ipaddress.IPv4Address(col.ip)
    for net, _ in mine:  # rule 2
        info = view.addressing.networks.get(net.name)
        if info is not None and target in info.subnet:
            return net.driver == "macvlan" and _underlay_column(view, col) and _on_underlay_from(
                view, here, col, as_macvlan=net)
    order = {(src, ep.network): i for i, ep in enumerate(view.topo.endpoints_of(src))}
    gateway = gateway_endpoint(view.topo, src, view.addressing, order)
    if gateway is None:
        return False
    via = view.topo.network(gateway[0])
    if via.driver != "bridge" or not _underlay_column(view, col):  # rule 3: private subnets are not routed
        return False
    if col.network == "host" and view.host_of(col.sandbox) == here:
        return True  # the bridge's own host: delivered locally, no NAT needed
    return _option(via, MASQUERADE_OPTION) and _on_underlay_from(view, here, col, as_macvlan=None)


def expected_matrix(view: DeployedLab) -> MatrixResult:
    """Rows: every placed sandbox; columns: every address of every sandbox; entries: :func:`model_reaches`."""
    sources = view.sandboxes
    columns = [col for name in sources for col in view.columns(name)]
    expected = [[model_reaches(view, src, col) for col in columns] for src in sources]
    return MatrixResult(sources, columns, expected)
