"""Shell-script baselines for ``bench_deploy.py``: the lab netlab deploys, written as plain ``ip`` commands.

:func:`plan` names every object of a one-host bridge lab of N containers, and
the generators turn it into bash scripts in two styles:

* :func:`per_command_up` / :func:`per_command_down`: one ``ip`` process per step;
* :func:`batch_files`: one ``ip -batch`` file per namespace (the namespaces
  themselves are created, and deleted, by one ``ip -batch`` of ``netns add`` /
  ``netns del`` lines) plus a bash driver that runs them.

Both build exactly what netlab builds for that lab (see ``netlab/lab.py``),
and nothing in the machine's own namespace: every namespace is created by the
script (``<prefix>underlay``, ``<prefix>internet``, ``<prefix>host``,
``<prefix>c<i>``); links are created with ``ip -n NS`` inside them, a veth's
peer is born in its namespace (``peer ... netns NS``).

* underlay namespace: bridge ``ul`` (MAC, MTU 1500, up);
* internet namespace: ``lo`` up, veth ``ul-internet`` on ``ul`` with peer
  ``eth0`` (MACs, MTU 1500), ``192.0.2.1/24``, ``eth0`` up;
* host namespace: ``lo`` up, ``net.ipv4.ip_forward=1``, uplink veth ``ul-h1`` /
  ``eth0`` (MACs, MTU 1500), ``192.0.2.11/24``, up, default route via
  ``192.0.2.1``; bridge ``br-net`` (MAC, up) with the gateway address
  (first address of the subnet); the nft table ``ip netlab`` (forward policy
  drop with established / intra-bridge / bridge-to-uplink accepts, empty
  prerouting, masquerade of the subnet in postrouting);
* per container ``c<i>``: namespace, ``lo`` up, veth ``ve-c<i>-0`` (MAC, on
  ``br-net``, up) created in the host namespace with its peer ``eth0`` (MAC
  ``02:42`` + IPv4) placed in the container namespace, the address (subnet
  addresses from .2 on, in container order), ``eth0`` up, default route via
  the gateway.

Routes get ``proto static``, as netlab's netlink requests do.
"""

from __future__ import annotations

import ipaddress
import shlex
from dataclasses import dataclass
from pathlib import Path

from netlab.naming import derived_mac

__all__ = ["BaselineLab", "Container", "Scripts", "batch_files", "nft_ruleset", "per_command_down",
           "per_command_up", "plan", "write_scripts"]

UNDERLAY_SUBNET = ipaddress.IPv4Network("192.0.2.0/24")
INTERNET_IP = "192.0.2.1"
HOST_IP = "192.0.2.11"
UNDERLAY_MTU = 1500
UNDERLAY_BRIDGE = "ul"
HOST = "h1"
NETWORK = "net"


@dataclass(frozen=True, slots=True)
class Container:
    name: str
    ns: str
    host_end: str      # veth end on the bridge, in the host namespace
    host_mac: str
    cidr: str          # address of eth0, e.g. 10.200.0.2/16
    mac: str           # MAC of eth0


@dataclass(frozen=True, slots=True)
class BaselineLab:
    prefix: str
    underlay: str
    internet: str
    host: str
    bridge: str
    bridge_mac: str
    subnet: str
    gateway: str
    containers: tuple[Container, ...]

    @property
    def namespaces(self) -> list[str]:
        """Every namespace of the lab, in creation order."""
        return [self.underlay, self.internet, self.host, *(c.ns for c in self.containers)]


def _container_mac(ip: ipaddress.IPv4Address) -> str:
    """Docker's (and netlab's) container MAC: 02:42 followed by the IPv4 address."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ip.packed)


def plan(prefix: str, containers: int, subnet: str = "10.200.0.0/16") -> BaselineLab:
    """Names, MACs and addresses of a one-host lab with ``containers`` containers on one bridge."""
    net = ipaddress.IPv4Network(subnet)
    if containers > net.num_addresses - 3:
        raise ValueError(f"{containers} containers do not fit in {subnet}")
    host = f"{prefix}host"
    bridge = f"br-{NETWORK}"
    items = []
    for i in range(containers):
        ip = net.network_address + 2 + i
        host_end = f"ve-c{i}-0"
        items.append(Container(f"c{i}", f"{prefix}c{i}", host_end, derived_mac(host, host_end),
                               f"{ip}/{net.prefixlen}", _container_mac(ip)))
    return BaselineLab(prefix, f"{prefix}underlay", f"{prefix}internet", host, bridge, derived_mac(host, bridge),
                       str(net), str(net.network_address + 1), tuple(items))


def nft_ruleset(lab: BaselineLab) -> str:
    """The host's nft table, in nft's own syntax (the same rules netlab applies as JSON)."""
    b = lab.bridge
    return f"""table ip netlab {{
    chain forward {{
        type filter hook forward priority 0; policy drop;
        ct state established,related accept
        iifname "{b}" oifname "{b}" accept
        iifname "{b}" oifname "eth0" accept
    }}
    chain prerouting {{
        type nat hook prerouting priority -100; policy accept;
    }}
    chain postrouting {{
        type nat hook postrouting priority 100; policy accept;
        ip saddr {lab.subnet} oifname != "{b}" masquerade
    }}
}}
"""


# -- the steps, as ip arguments (without the leading "ip -n NS") -------------------------------------------------------
def _underlay_links(lab: BaselineLab) -> list[str]:
    """Run in the underlay namespace: the bridge and the two uplink veths (peers born in internet / host)."""
    out = [f"link add {UNDERLAY_BRIDGE} address {derived_mac(lab.underlay, UNDERLAY_BRIDGE)} mtu {UNDERLAY_MTU} "
           "up type bridge"]
    for name, peer_ns in (("ul-internet", lab.internet), (f"ul-{HOST}", lab.host)):
        out.append(f"link add {name} address {derived_mac(lab.underlay, name)} mtu {UNDERLAY_MTU} "
                   f"master {UNDERLAY_BRIDGE} up type veth peer name eth0 address {derived_mac(peer_ns, 'eth0')} "
                   f"mtu {UNDERLAY_MTU} netns {peer_ns}")
    return out


def _internet_steps() -> list[str]:
    return ["link set lo up", f"addr add {INTERNET_IP}/{UNDERLAY_SUBNET.prefixlen} dev eth0", "link set eth0 up"]


def _host_steps(lab: BaselineLab) -> list[str]:
    prefixlen = ipaddress.IPv4Network(lab.subnet).prefixlen
    return ["link set lo up", f"addr add {HOST_IP}/{UNDERLAY_SUBNET.prefixlen} dev eth0", "link set eth0 up",
            f"route add default via {INTERNET_IP} proto static",
            f"link add {lab.bridge} address {lab.bridge_mac} up type bridge",
            f"addr add {lab.gateway}/{prefixlen} dev {lab.bridge}"]


def _veth(lab: BaselineLab, c: Container) -> str:
    """Run in the host namespace: the container's veth, on the bridge, its peer eth0 born in the container."""
    return (f"link add {c.host_end} address {c.host_mac} master {lab.bridge} up type veth "
            f"peer name eth0 address {c.mac} netns {c.ns}")


def _container_steps(lab: BaselineLab, c: Container) -> list[str]:
    return [f"addr add {c.cidr} dev eth0", "link set eth0 up", f"route add default via {lab.gateway} proto static"]


def _host_extras(lab: BaselineLab, nft_file: Path) -> list[str]:
    """The two host steps that are not ip link/addr/route: the sysctl and the nft ruleset."""
    host = shlex.quote(lab.host)
    return [f"ip netns exec {host} sysctl -qw net.ipv4.ip_forward=1",
            f"ip netns exec {host} nft -f {shlex.quote(str(nft_file))}"]


_HEADER = "#!/bin/bash\nset -e\n"


def per_command_up(lab: BaselineLab, nft_file: Path) -> str:
    """Bash script, one ``ip`` process per step, in netlab's order of object groups."""
    q = shlex.quote
    underlay = _underlay_links(lab)
    lines = [f"ip netns add {q(lab.underlay)}", f"ip -n {q(lab.underlay)} {underlay[0]}",
             f"ip netns add {q(lab.internet)}", f"ip -n {q(lab.internet)} link set lo up",
             f"ip -n {q(lab.underlay)} {underlay[1]}",
             *(f"ip -n {q(lab.internet)} {s}" for s in _internet_steps()[1:]),
             f"ip netns add {q(lab.host)}", f"ip -n {q(lab.host)} link set lo up", _host_extras(lab, nft_file)[0],
             f"ip -n {q(lab.underlay)} {underlay[2]}",
             *(f"ip -n {q(lab.host)} {s}" for s in _host_steps(lab)[1:])]
    for c in lab.containers:
        lines += [f"ip netns add {q(c.ns)}", f"ip -n {q(c.ns)} link set lo up", f"ip -n {q(lab.host)} {_veth(lab, c)}",
                  *(f"ip -n {q(c.ns)} {s}" for s in _container_steps(lab, c))]
    lines.append(_host_extras(lab, nft_file)[1])
    return _HEADER + "\n".join(lines) + "\n"


def per_command_down(lab: BaselineLab) -> str:
    """Bash script: ``ip netns del`` per namespace, in reverse creation order (as netlab's down)."""
    return _HEADER + "".join(f"ip netns del {shlex.quote(ns)}\n" for ns in reversed(lab.namespaces))


def batch_files(lab: BaselineLab, directory: Path, nft_file: Path) -> tuple[dict[Path, str], str, str]:
    """(batch file -> content, up driver script, down driver script) for the ``ip -batch`` baseline.

    One ``ip -batch`` creates every namespace; then one ``ip -n NS -batch FILE``
    per namespace (underlay, internet, host with all the container veths, each
    container); the host's sysctl and ruleset as in the per-command script.
    Down is one ``ip -batch`` of ``netns del`` lines.
    """
    q = shlex.quote
    files: dict[Path, str] = {}

    def batch(name: str, lines: list[str]) -> Path:
        path = directory / f"{name}.batch"
        files[path] = "\n".join(lines) + "\n"
        return path

    up = [f"ip -batch {q(str(batch('netns-add', [f'netns add {ns}' for ns in lab.namespaces])))}",
          f"ip -n {q(lab.underlay)} -batch {q(str(batch('underlay', _underlay_links(lab))))}",
          f"ip -n {q(lab.internet)} -batch {q(str(batch('internet', _internet_steps())))}",
          f"ip -n {q(lab.host)} -batch "
          f"{q(str(batch('host', _host_steps(lab) + [_veth(lab, c) for c in lab.containers])))}",
          *_host_extras(lab, nft_file)]
    for c in lab.containers:
        up.append(f"ip -n {q(c.ns)} -batch {q(str(batch(c.name, ['link set lo up', *_container_steps(lab, c)])))}")
    down_file = batch("netns-del", [f"netns del {ns}" for ns in reversed(lab.namespaces)])
    return files, _HEADER + "\n".join(up) + "\n", _HEADER + f"ip -batch {q(str(down_file))}\n"


@dataclass(frozen=True, slots=True)
class Scripts:
    command_up: Path
    command_down: Path
    batch_up: Path
    batch_down: Path


def write_scripts(lab: BaselineLab, directory: Path) -> Scripts:
    """Write the ruleset, both baselines' scripts and the batch files into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    nft_file = directory / "host.nft"
    nft_file.write_text(nft_ruleset(lab))
    scripts = Scripts(directory / "command-up.sh", directory / "command-down.sh", directory / "batch-up.sh",
                      directory / "batch-down.sh")
    scripts.command_up.write_text(per_command_up(lab, nft_file))
    scripts.command_down.write_text(per_command_down(lab))
    files, batch_up, batch_down = batch_files(lab, directory, nft_file)
    for path, text in files.items():
        path.write_text(text)
    scripts.batch_up.write_text(batch_up)
    scripts.batch_down.write_text(batch_down)
    return scripts
