"""Validation: every semantic problem of a Topology, found in one pass.

Each rule adds :class:`~netlab.errors.Problem` records (code, dotted path,
message, hint; the YAML line is attached from ``topo.lines``). Nothing raises
until :func:`validate`, which raises one ``ValidationError`` with them all.
The overlap rules follow libnetwork (documented in docs/scenario-format.md):

* two local-scope networks (bridge, macvlan) on the same host must not
  overlap: both live in that host's routing table;
* a sandbox must not join two networks whose subnets overlap;
* a local network and an overlay present on the same host must not overlap
  (the host would route the overlay's subnet to its local bridge);
* any network on a host must not overlap the underlay;
* overlays may overlap each other (each lives in its own namespace and VNI),
  and local networks on different hosts may overlap (per-host scope).
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from netlab import drivers
from netlab.addressing import Addressing, plan_addresses
from netlab.bulk import gc_paused
from netlab.errors import Problem, ValidationError
from netlab.loading import locate, parse_file
from netlab.model import Network, Topology
from netlab.naming import IFNAMSIZ, sandbox_ifname
from netlab.underlay import host_addresses

__all__ = ["check_file", "find_problems", "load_valid", "validate"]

DNS_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
MAC = re.compile(r"^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$")
MIN_MTU, MAX_MTU = 68, 65535
VXLAN_OVERHEAD = 50
BOOL_OPTIONS = (drivers.ICC_OPTION, drivers.MASQUERADE_OPTION)
LAB_UPLINK = "eth0"  # each lab host's underlay interface


class _Collector:
    def __init__(self, topo: Topology) -> None:
        self.topo = topo
        self.problems: list[Problem] = []

    def add(self, path: str, code: str, message: str, hint: str = "") -> None:
        line = locate(self.topo.lines, path)
        self.problems.append(Problem(path, code, message, hint, line, self.topo.source))


def _net_path(name: str, field: str = "") -> str:
    return f"networks.{name}.{field}" if field else f"networks.{name}"


def _ep_path(sandbox: str, network: str, field: str = "") -> str:
    base = f"containers.{sandbox}.networks.{network}"
    return f"{base}.{field}" if field else base


def _subnet(text: str | None) -> IPv4Network | None:
    if text is None:
        return None
    try:
        return IPv4Network(text, strict=True)
    except ValueError:
        return None


def _address(text: str | None) -> IPv4Address | None:
    if text is None:
        return None
    try:
        return IPv4Address(text)
    except ValueError:
        return None


def find_problems(topo: Topology, prior: Sequence[Problem] = ()) -> list[Problem]:
    """Every semantic problem of ``topo``.

    Problems at or under a path listed in ``prior`` (e.g. shape problems from
    loading) are left out, so one mistake is not reported twice.
    """
    return _find(topo, prior)[0]


def _find(topo: Topology, prior: Sequence[Problem] = ()) -> tuple[list[Problem], Addressing]:
    with gc_paused():
        return _find_all(topo, prior)


def _find_all(topo: Topology, prior: Sequence[Problem]) -> tuple[list[Problem], Addressing]:
    out = _Collector(topo)
    _check_names(out)
    subnets = _check_networks(out)
    _check_overlaps(out, subnets)
    _check_vnis(out)
    _check_underlay_addresses(out)
    _check_sandboxes(out)
    _check_sandbox_overlaps(out, subnets)
    _check_endpoints(out, subnets)
    addressing = _check_pools(out)
    _check_expectations(out)
    seen = {p.path for p in prior}
    kept = [p for p in out.problems if not _under_any(p.path, seen)]
    return sorted(kept, key=lambda p: (p.line or 0, p.path, p.code)), addressing


def _under_any(path: str, roots: set[str]) -> bool:
    if not roots:
        return False
    while True:
        if path in roots:
            return True
        cut = max(path.rfind("."), path.rfind("["))
        if cut <= 0:
            return False
        path = path[:cut]


def validate(topo: Topology) -> Addressing:
    """Raise :class:`ValidationError` if ``topo`` has any problem, else return its addresses.

    Validation already allocates (pool exhaustion is one of its rules), so the
    valid model's :class:`~netlab.addressing.Addressing` comes for free.
    """
    problems, addressing = _find(topo)
    if problems:
        raise ValidationError(problems)
    return addressing


def _checked(path: str | Path) -> tuple[Topology, list[Problem], Addressing | None]:
    topo, problems = parse_file(path)
    if any(p.code in ("yaml-syntax", "unreadable") for p in problems):
        return topo, problems, None
    found, addressing = _find(topo, problems)
    return topo, sorted(problems + found, key=lambda p: (p.line or 0, p.path, p.code)), addressing


def check_file(path: str | Path) -> list[Problem]:
    """Load and validate a scenario file; every shape and semantic problem, in line order."""
    return _checked(path)[1]


def load_valid(path: str | Path) -> tuple[Topology, Addressing]:
    """Load a scenario file that must be valid, with its addresses.

    Raises one ``ValidationError`` listing every shape and semantic problem.
    """
    topo, problems, addressing = _checked(path)
    if problems or addressing is None:
        raise ValidationError(problems)
    return topo, addressing


# -- names ---------------------------------------------------------------------
def _check_names(out: _Collector) -> None:
    topo = out.topo
    hint = "use letters, digits and '-', start and end with a letter or digit, at most 63 characters"
    if not DNS_LABEL.match(topo.name):
        out.add("name", "bad-name", f"lab name {topo.name!r} is not DNS-safe", hint)
    named: Iterable[tuple[str, str, str]] = (
        [("host", h.name, f"hosts.{h.name}") for h in topo.hosts]
        + [("network", n.name, _net_path(n.name)) for n in topo.networks]
        + [("container", s.name, f"containers.{s.name}") for s in topo.sandboxes]
    )
    for kind, name, path in named:
        if not DNS_LABEL.match(name):
            out.add(path, "bad-name", f"{kind} name {name!r} is not DNS-safe", hint)
    for ep in topo.endpoints:
        for alias in ep.aliases:
            if not DNS_LABEL.match(alias):
                out.add(_ep_path(ep.sandbox, ep.network, "aliases"), "bad-name",
                        f"alias {alias!r} of {ep.sandbox} on {ep.network} is not DNS-safe", hint)


# -- networks ------------------------------------------------------------------
def _check_networks(out: _Collector) -> dict[str, IPv4Network]:
    """Per-network rules; returns the parsable explicit subnets."""
    topo = out.topo
    known = drivers.known_drivers()
    subnets: dict[str, IPv4Network] = {}
    singles: dict[str, str] = {}
    underlay = _subnet(topo.underlay.subnet)
    if underlay is None:
        out.add("underlay.subnet", "bad-subnet", f"underlay subnet {topo.underlay.subnet!r} is not a "
                "network address like 192.0.2.0/24")
    if not MIN_MTU <= topo.underlay.mtu <= MAX_MTU:
        out.add("underlay.mtu", "mtu-out-of-range",
                f"underlay MTU {topo.underlay.mtu} is outside {MIN_MTU}-{MAX_MTU}")
    for net in topo.networks:
        info = known.get(net.driver)
        if info is None:
            close = difflib.get_close_matches(net.driver, known, n=1)
            out.add(_net_path(net.name, "driver"), "unknown-driver",
                    f"network {net.name!r} uses unknown driver {net.driver!r}",
                    f"did you mean {close[0]!r}?" if close else f"known drivers: {', '.join(sorted(known))}")
        else:
            _check_driver_rules(out, net, info, singles)
        subnet = _check_addressing(out, net)
        if subnet is not None:
            subnets[net.name] = subnet
        _check_mtu(out, net)
    return subnets


def _check_driver_rules(out: _Collector, net: Network, info: drivers.DriverInfo,
                        singles: dict[str, str]) -> None:
    if info.single:
        if net.driver in singles:
            out.add(_net_path(net.name, "driver"), "single-network-driver",
                    f"only one {net.driver!r} network is allowed; {singles[net.driver]!r} is one already")
        singles.setdefault(net.driver, net.name)
    if not info.uses_ipam:
        for field in ("subnet", "gateway", "ip_range"):
            if getattr(net, field) is not None:
                out.add(_net_path(net.name, field), "driver-takes-no-address",
                        f"the {net.driver!r} driver gives no addresses; {field} makes no sense here")
    if info.options is not None:
        for key in net.options:
            if key not in info.options:
                close = difflib.get_close_matches(key, info.options, n=1)
                out.add(_net_path(net.name, f"options.{key}"), "unknown-option",
                        f"the {net.driver!r} driver has no option {key!r}",
                        f"did you mean {close[0]!r}?" if close else
                        f"its options: {', '.join(sorted(info.options)) or 'none'}")
    for key in BOOL_OPTIONS:
        value = net.options.get(key)
        if value is not None and value.lower() not in ("true", "false"):
            out.add(_net_path(net.name, f"options.{key}"), "bad-option-value",
                    f"{key} must be true or false, not {value!r}")
    bridge = net.options.get(drivers.BRIDGE_NAME_OPTION)
    if bridge is not None and len(bridge.encode()) > IFNAMSIZ:
        out.add(_net_path(net.name, f"options.{drivers.BRIDGE_NAME_OPTION}"), "ifname-too-long",
                f"bridge name {bridge!r} is {len(bridge.encode())} bytes; Linux allows {IFNAMSIZ}",
                "pick a shorter name or drop the option to get br-<network>")
    vnis = net.options.get(drivers.VXLANID_OPTION)
    if vnis is not None:
        ids = vnis.split(",")
        for vni in ids:
            if not vni.strip().isdigit() or not 1 <= int(vni) < 2**24:
                out.add(_net_path(net.name, f"options.{drivers.VXLANID_OPTION}"), "bad-option-value",
                        f"VXLAN id {vni.strip()!r} is not a number in 1-16777215")
        if len(ids) > 1:
            out.add(_net_path(net.name, f"options.{drivers.VXLANID_OPTION}"), "bad-option-value",
                    f"{len(ids)} VXLAN ids for one subnet; libnetwork takes one id per subnet",
                    "give a single id")
    if net.driver == "macvlan":
        parent = net.options.get("parent", LAB_UPLINK)
        if parent != LAB_UPLINK:
            out.add(_net_path(net.name, "options.parent"), "macvlan-parent-missing",
                    f"macvlan parent {parent!r} does not exist on the lab's hosts; each host has only its "
                    f"underlay interface {LAB_UPLINK!r}", f"use parent: {LAB_UPLINK} or omit it")
        mode = net.options.get("macvlan_mode", "bridge")
        if mode not in ("bridge", "private", "vepa", "passthru"):
            out.add(_net_path(net.name, "options.macvlan_mode"), "bad-option-value",
                    f"macvlan_mode {mode!r} is not bridge, private, vepa or passthru")
    if net.driver == "overlay" and net.options.get("encrypted", "false").lower() not in ("false", ""):
        out.add(_net_path(net.name, "options.encrypted"), "not-supported",
                "encrypted overlay networks are not supported yet", "drop the 'encrypted' option")


def _check_addressing(out: _Collector, net: Network) -> IPv4Network | None:
    subnet = _subnet(net.subnet)
    if net.subnet is not None and subnet is None:
        out.add(_net_path(net.name, "subnet"), "bad-subnet",
                f"subnet {net.subnet!r} of {net.name!r} is not a network address like 10.0.1.0/24",
                "host bits must be zero (10.0.1.0/24, not 10.0.1.5/24)")
    if net.gateway is not None:
        gateway = _address(net.gateway)
        if gateway is None:
            out.add(_net_path(net.name, "gateway"), "bad-address",
                    f"gateway {net.gateway!r} of {net.name!r} is not an IPv4 address")
        elif net.subnet is None:
            out.add(_net_path(net.name, "gateway"), "gateway-needs-subnet",
                    f"gateway {net.gateway} is set but {net.name!r} has no subnet", "set subnet as well")
        elif subnet is not None:
            _check_in_subnet(out, _net_path(net.name, "gateway"), f"gateway {gateway}", gateway, subnet)
    if net.ip_range is not None:
        ip_range = _subnet(net.ip_range)
        if ip_range is None:
            out.add(_net_path(net.name, "ip_range"), "bad-subnet",
                    f"ip_range {net.ip_range!r} of {net.name!r} is not a network address")
        elif subnet is None and net.subnet is None:
            out.add(_net_path(net.name, "ip_range"), "ip-range-needs-subnet",
                    f"ip_range {ip_range} is set but {net.name!r} has no subnet", "set subnet as well")
        elif subnet is not None and not ip_range.subnet_of(subnet):
            out.add(_net_path(net.name, "ip_range"), "ip-range-outside-subnet",
                    f"ip_range {ip_range} is not inside subnet {subnet} of {net.name!r}")
    return subnet


def _check_in_subnet(out: _Collector, path: str, what: str, address: IPv4Address,
                     subnet: IPv4Network) -> bool:
    if address not in subnet:
        out.add(path, "address-outside-subnet", f"{what} is outside subnet {subnet}",
                f"use an address in {subnet}")
        return False
    if subnet.prefixlen < 31 and address in (subnet.network_address, subnet.broadcast_address):
        which = "network" if address == subnet.network_address else "broadcast"
        out.add(path, "address-reserved", f"{what} is the {which} address of {subnet}",
                "use an address between them")
        return False
    return True


def _check_mtu(out: _Collector, net: Network) -> None:
    option = net.options.get(drivers.MTU_OPTION)
    mtu = net.mtu
    if option is not None:
        if not option.isdigit():
            out.add(_net_path(net.name, f"options.{drivers.MTU_OPTION}"), "bad-option-value",
                    f"MTU option {option!r} is not a number")
        elif mtu is not None and int(option) != mtu:
            out.add(_net_path(net.name, "mtu"), "mtu-conflict",
                    f"mtu {mtu} and option {drivers.MTU_OPTION}={option} disagree", "keep one of them")
        else:
            mtu = int(option)
    if mtu is None:
        return
    if not MIN_MTU <= mtu <= MAX_MTU:
        out.add(_net_path(net.name, "mtu"), "mtu-out-of-range",
                f"MTU {mtu} of {net.name!r} is outside {MIN_MTU}-{MAX_MTU}")
    elif net.driver == "overlay" and mtu > out.topo.underlay.mtu - VXLAN_OVERHEAD:
        out.add(_net_path(net.name, "mtu"), "overlay-mtu-too-big",
                f"overlay {net.name!r} has MTU {mtu} but VXLAN needs {VXLAN_OVERHEAD} bytes of the "
                f"underlay's {out.topo.underlay.mtu}",
                f"use at most {out.topo.underlay.mtu - VXLAN_OVERHEAD}, or omit mtu")


def _check_vnis(out: _Collector) -> None:
    """Two overlays asking for the same VXLAN id would share one segment."""
    owners: dict[int, str] = {}
    for net in sorted(out.topo.networks, key=lambda n: locate(out.topo.lines, _net_path(n.name)) or 0):
        wanted = net.options.get(drivers.VXLANID_OPTION, "").split(",")[0].strip()
        if net.driver != "overlay" or not wanted.isdigit():
            continue
        vni = int(wanted)
        if vni in owners:
            out.add(_net_path(net.name, f"options.{drivers.VXLANID_OPTION}"), "vni-collision",
                    f"overlay {net.name!r} asks for VXLAN id {vni}, which {owners[vni]!r} uses already",
                    "give each overlay its own id, or omit the option")
        owners.setdefault(vni, net.name)


def _check_underlay_addresses(out: _Collector) -> None:
    """Every host needs its own address on the underlay (its uplink, the overlays' VTEP)."""
    topo = out.topo
    underlay = _subnet(topo.underlay.subnet)
    if underlay is None:
        return
    reserved = {underlay.network_address, underlay.broadcast_address, underlay.network_address + 1}
    seen: dict[IPv4Address, str] = {}
    for host in topo.hosts:
        if host.underlay_ip is None:
            continue
        path = f"hosts.{host.name}.underlay_ip"
        address = _address(host.underlay_ip)
        if address is None or address not in underlay or address in reserved:
            out.add(path, "bad-underlay-address",
                    f"underlay_ip {host.underlay_ip!r} of host {host.name!r} is not a free address of the "
                    f"underlay {underlay}", f"use one of {underlay.network_address + 2} ... "
                    f"{underlay.broadcast_address - 1}")
        elif address in seen:
            out.add(path, "bad-underlay-address",
                    f"underlay_ip {address} of host {host.name!r} is also host {seen[address]!r}'s")
        else:
            seen[address] = host.name
    placed = host_addresses(topo)
    for host in topo.hosts:
        if host.name not in placed:
            out.add(f"hosts.{host.name}", "no-underlay-address",
                    f"host {host.name!r} gets no address: the underlay {underlay} is full",
                    "use a bigger underlay subnet (underlay.subnet)")


# -- overlaps -------------------------------------------------------------------
def _check_overlaps(out: _Collector, subnets: dict[str, IPv4Network]) -> None:
    topo = out.topo
    underlay = _subnet(topo.underlay.subnet)
    by_host: dict[str, list[Network]] = defaultdict(list)
    for name in subnets:
        net = topo.network(name)
        hosts = topo.network_hosts(name)
        for host in hosts:
            by_host[host].append(net)
        if underlay is not None and hosts and subnets[name].overlaps(underlay) and net.driver != "macvlan":
            out.add(_net_path(name, "subnet"), "subnet-overlap",
                    f"subnet {subnets[name]} of {name!r} overlaps the underlay {underlay}",
                    "pick another subnet, or move the underlay (underlay.subnet)")
    reported: set[tuple[str, str]] = set()
    for host, nets in by_host.items():
        ordered = sorted(nets, key=lambda n: subnets[n.name].network_address)
        for i, first in enumerate(ordered):
            for second in ordered[i + 1:]:
                a, b = subnets[first.name], subnets[second.name]
                if a.broadcast_address < b.network_address:
                    break
                if first.scope == "global" and second.scope == "global":
                    continue  # overlays are isolated by VNI and namespace
                pair = tuple(sorted((first.name, second.name)))
                if pair in reported:
                    continue
                reported.add((pair[0], pair[1]))
                later = max(first, second, key=lambda n: locate(topo.lines, _net_path(n.name)) or 0)
                other = second if later is first else first
                out.add(_net_path(later.name, "subnet"), "subnet-overlap",
                        f"subnet {subnets[later.name]} of {later.name!r} overlaps {subnets[other.name]} of "
                        f"{other.name!r} on host {host!r}",
                        "pick non-overlapping subnets, or put the networks on different hosts")


def _check_sandbox_overlaps(out: _Collector, subnets: dict[str, IPv4Network]) -> None:
    """A sandbox joined to two overlapping networks would have two routes for one subnet."""
    for sbx in out.topo.sandboxes:
        joined = [ep.network for ep in out.topo.endpoints_of(sbx.name) if ep.network in subnets]
        for i, first in enumerate(joined):
            for second in joined[i + 1:]:
                if subnets[first].overlaps(subnets[second]):
                    out.add(_ep_path(sbx.name, second), "subnet-overlap",
                            f"container {sbx.name!r} joins {first!r} ({subnets[first]}) and {second!r} "
                            f"({subnets[second]}), which overlap: its routes would be ambiguous",
                            "give one of the networks another subnet")


# -- sandboxes ------------------------------------------------------------------
def _check_sandboxes(out: _Collector) -> None:
    topo = out.topo
    multi_host = len(topo.hosts) > 1
    published: dict[tuple[str, str, int], str] = {}
    for sbx in topo.sandboxes:
        path = f"containers.{sbx.name}"
        host = topo.host_of(sbx.name)
        if host is None and multi_host:
            out.add(f"{path}.host", "host-missing", f"container {sbx.name!r} has no host and the lab has "
                    f"{len(topo.hosts)}", "add host: <name>")
        networks = topo.networks_of(sbx.name)
        if any(n.driver == "host" for n in networks) and len(networks) > 1:
            out.add(f"{path}.networks", "host-network-exclusive",
                    f"container {sbx.name!r} joins a 'host' network and others; host networking "
                    "cannot be combined", "keep only the host network, or drop it")
        if sbx.ports:
            external = [n for n in networks if not n.internal and n.driver in ("bridge", "overlay")]
            if not external:
                where = "internal networks only" if networks else "no network"
                out.add(f"{path}.ports", "port-on-internal-network",
                        f"container {sbx.name!r} publishes ports but is on {where}; nothing can reach them",
                        "connect it to a non-internal bridge or overlay network, or drop ports")
        for index, port in enumerate(sbx.ports):
            key = (host or "", port.protocol, port.host_port)
            holder = published.get(key)
            if holder is not None and host is not None:
                out.add(f"{path}.ports[{index}]", "port-conflict",
                        f"host port {port.host_port}/{port.protocol} on {host!r} is already published by "
                        f"{holder!r}", "choose another host port")
            published.setdefault(key, sbx.name)
        for index, ep in enumerate(topo.endpoints_of(sbx.name)):
            prefix = topo.network(ep.network).options.get(drivers.IFACE_PREFIX_OPTION, "eth")
            ifname = sandbox_ifname(index, prefix)
            if len(ifname.encode()) > IFNAMSIZ:
                out.add(_ep_path(sbx.name, ep.network), "ifname-too-long",
                        f"interface name {ifname!r} in {sbx.name!r} is longer than {IFNAMSIZ} bytes",
                        f"shorten {drivers.IFACE_PREFIX_OPTION}")


# -- endpoints -------------------------------------------------------------------
def _check_endpoints(out: _Collector, subnets: dict[str, IPv4Network]) -> None:
    topo = out.topo
    for net in topo.networks:
        subnet = subnets.get(net.name)
        taken: dict[IPv4Address, str] = {}
        gateway = _address(net.gateway)
        if gateway is not None:
            taken[gateway] = "the gateway"
        names: dict[str, str] = {}
        macs: dict[str, str] = {}
        net_hosts = topo.network_hosts(net.name)
        for ep in topo.endpoints_on(net.name):
            names.setdefault(ep.sandbox.lower(), ep.sandbox)
            if net.scope == "local" and net.host is not None:
                host = topo.host_of(ep.sandbox)
                if host is not None and host != net.host:
                    out.add(_ep_path(ep.sandbox, net.name), "network-on-other-host",
                            f"container {ep.sandbox!r} on host {host!r} joins {net.driver} network "
                            f"{net.name!r} of host {net.host!r}",
                            "use an overlay network to span hosts, or move the container")
            if ep.mac is not None:
                if not MAC.match(ep.mac):
                    out.add(_ep_path(ep.sandbox, net.name, "mac"), "bad-mac",
                            f"MAC {ep.mac!r} is not like 02:42:0a:00:00:02")
                elif ep.mac.lower() in macs:
                    out.add(_ep_path(ep.sandbox, net.name, "mac"), "mac-taken",
                            f"MAC {ep.mac} is also used by {macs[ep.mac.lower()]!r} on {net.name!r}")
                macs.setdefault(ep.mac.lower(), ep.sandbox)
            if ep.ip is not None:
                _check_static_ip(out, net, subnet, ep.sandbox, ep.ip, taken)
        if net.scope == "local" and net.host is None and len(net_hosts) > 1 and net.driver != "macvlan":
            out.add(_net_path(net.name), "local-network-spans-hosts",
                    f"{net.driver} network {net.name!r} is local to one host but its containers are on "
                    f"{', '.join(net_hosts)}", "use driver: overlay, or set host: and move the containers")
        _check_aliases(out, net.name, names)


def _check_static_ip(out: _Collector, net: Network, subnet: IPv4Network | None, sandbox: str,
                     text: str, taken: dict[IPv4Address, str]) -> None:
    path = _ep_path(sandbox, net.name, "ip")
    address = _address(text)
    if address is None:
        out.add(path, "bad-address", f"ip {text!r} of {sandbox!r} is not an IPv4 address")
        return
    if net.subnet is None:
        out.add(path, "static-ip-needs-subnet",
                f"{sandbox!r} asks for {address} on {net.name!r}, which has no subnet configured",
                "as in Docker, static addresses need a user-specified subnet")
        return
    if subnet is None or not _check_in_subnet(out, path, f"ip {address} of {sandbox!r}", address, subnet):
        return
    holder = taken.get(address)
    if holder is not None:
        out.add(path, "address-taken", f"ip {address} of {sandbox!r} on {net.name!r} is already {holder}",
                "give each endpoint its own address")
    else:
        taken[address] = f"taken by {sandbox!r}"


def _check_aliases(out: _Collector, network: str, names: dict[str, str]) -> None:
    topo = out.topo
    for ep in topo.endpoints_on(network):
        for alias in ep.aliases:
            owner = names.get(alias.lower())
            if owner is not None and owner != ep.sandbox:
                out.add(_ep_path(ep.sandbox, network, "aliases"), "alias-collision",
                        f"alias {alias!r} of {ep.sandbox!r} on {network!r} is already the name or an alias "
                        f"of {owner!r}", "aliases must be unique within a network")
            names.setdefault(alias.lower(), ep.sandbox)


# -- pools -----------------------------------------------------------------------
def _check_pools(out: _Collector) -> Addressing:
    addressing, problems = plan_addresses(out.topo)
    for problem in problems:
        out.add(problem.path, problem.code, problem.message, problem.hint)
    return addressing


# -- expectations ----------------------------------------------------------------
def _check_expectations(out: _Collector) -> None:
    topo = out.topo
    sandboxes = {s.name for s in topo.sandboxes} | {a for ep in topo.endpoints for a in ep.aliases}
    for check in topo.expect:
        for key in ("from", "to"):
            target = check.params.get(key)
            if target is None or (check.kind == "published" and key == "from" and
                                  (target == "internet" or (isinstance(target, str) and topo.has("host", target)))):
                continue
            if not isinstance(target, str) or (target not in sandboxes and _address(target) is None):
                close = difflib.get_close_matches(str(target), sandboxes, n=1)
                out.add(f"{check.path}.{key}", "unknown-sandbox",
                        f"{check.kind} check refers to {target!r}, which is not a container, alias or address",
                        f"did you mean {close[0]!r}?" if close else "")
        port = check.params.get("port")
        if port is not None and (not isinstance(port, int) or isinstance(port, bool) or
                                 not 1 <= port <= 65535):
            out.add(f"{check.path}.port", "bad-check", f"port {port!r} is not a number in 1-65535")
        if check.kind == "published":
            host = check.params.get("host")
            if not isinstance(host, str) or not topo.has("host", host):
                out.add(f"{check.path}.host", "unknown-host", f"published check names unknown host {host!r}")
            protocol = check.params.get("protocol", "tcp")
            if protocol not in ("tcp", "udp"):
                out.add(f"{check.path}.protocol", "bad-check", f"published check protocol must be tcp or udp, "
                        f"not {protocol!r}")
        if check.kind == "mtu":
            value = check.params.get("expect")
            if not isinstance(value, int) or isinstance(value, bool) or not MIN_MTU <= value <= MAX_MTU:
                out.add(f"{check.path}.expect", "bad-check", f"mtu check expects a number, not {value!r}")
        expect = check.params.get("expect")
        if check.kind in ("tcp", "udp", "external", "published") and expect not in (None, "pass", "fail"):
            out.add(f"{check.path}.expect", "bad-check", f"expect must be pass or fail, not {expect!r}")
        if check.kind == "names":
            names = check.params.get("names")
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                out.add(f"{check.path}.names", "bad-check", "names must be a list of names to resolve")
