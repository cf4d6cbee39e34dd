"""Namespace hosts files: checking entries, writing them where ``ip netns exec`` finds them, and glibc's lookup.

:meth:`Backend.write_hosts <netlab.backends.Backend.write_hosts>` replaces a
namespace's hosts file with ``(address, names)`` entries, one line each, in the
order given; ``getent hosts NAME`` run through :meth:`Backend.exec
<netlab.backends.Backend.exec>` in that namespace then answers from it.

* **Kernel**: the file is ``/etc/netns/NS/hosts``, iproute2's convention:
  ``ip netns exec NS`` runs a program in a private mount namespace where every
  file of ``/etc/netns/NS/`` is bind-mounted over its namesake in ``/etc``. It is
  written to a temporary file in ``/etc/netns`` (never bound) and renamed into
  place. ``/etc/netns/NS`` goes with the namespace (``DeleteNamespace``), and
  ``/etc/netns`` itself once it is empty, so nothing is left behind.
  A ``resolv.conf`` is written next to it (:data:`RESOLV_CONF`): Docker's embedded DNS
  address, 127.0.0.11, where nothing answers in a lab, so a lookup that the hosts file
  does not settle (glibc asks for IPv6 first) is refused at once instead of waiting
  twice 5 s for the machine's name server, and no query ever leaves the lab.
* **Simulator**: :func:`getent_hosts` answers as glibc 2.36's ``getent hosts`` does
  with ``hosts: files`` and ``multi on`` (Debian's ``/etc/host.conf``): a key that
  is an IPv6, then IPv4, address is looked up by address (the first line that has
  it); a name is looked up as IPv6, then as IPv4, case-insensitively over the
  line's names; every matching line adds its addresses, its aliases and, when it
  differs, its own first name to the first match's. Lines print as ``%-15s %s``
  (address, name, aliases); a key that is not found stops with status 2. For an
  IPv4 lookup glibc reads ``::1`` as 127.0.0.1 and a v4-mapped IPv6 address as its
  IPv4 address; so does this. DNS is not simulated (it answers nothing).

Entries are checked the same way by both backends: an IPv4 or IPv6 address
(without a zone), and one or more names of letters, digits, ``_``, ``.`` and ``-``
that start with a letter, digit or ``_`` (at most 253 characters each).

>>> entries = check_entries([("10.0.0.2", ["web", "www"]), ("10.0.0.3", ["db"])])
>>> print(render(entries), end="")
# written by netlab
10.0.0.2 web www
10.0.0.3 db
>>> getent_hosts(entries, ["WWW"]).stdout
'10.0.0.2        web www\\n'
>>> getent_hosts(entries, ["cache"]).returncode
2
"""

from __future__ import annotations

import errno
import ipaddress
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Sequence

from netlab.backends import ExecResult
from netlab.backends import netns as _netns
from netlab.errors import InvalidRequestError

__all__ = ["ETC_NETNS_DIR", "RESOLV_CONF", "HostsEntry", "check_entries", "command", "etc_dir", "getent_hosts",
           "remove", "render", "write", "write_hosts"]

ETC_NETNS_DIR = "/etc/netns"
#: the resolv.conf of a namespace that has a hosts file (see the module docstring)
RESOLV_CONF = ("# written by netlab: Docker's embedded DNS address; nothing answers there in a lab\n"
               "nameserver 127.0.0.11\noptions timeout:1 attempts:1\n")
#: one line of a hosts file: (address, (name, aliases...))
HostsEntry = tuple[str, tuple[str, ...]]
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}")
_HEADER = "# written by netlab\n"
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def check_entries(entries: Sequence[tuple[str, Sequence[str]]]) -> list[HostsEntry]:
    """The entries with addresses in their normal form; ``InvalidRequestError`` naming the first bad one."""
    out: list[HostsEntry] = []
    for i, entry in enumerate(entries):
        try:
            address, names = entry
        except (TypeError, ValueError):
            raise InvalidRequestError(f"hosts entry {i}: expected (address, names), got {entry!r}") from None
        try:
            ip = ipaddress.ip_address(address) if isinstance(address, str) and "%" not in address else None
        except ValueError:
            ip = None
        if ip is None:
            raise InvalidRequestError(f"hosts entry {i}: {address!r} is not an IPv4 or IPv6 address")
        if isinstance(names, str) or not names:
            raise InvalidRequestError(f"hosts entry {i} ({address}): names must be a non-empty list of names, "
                                      f"got {names!r}")
        for name in names:
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                raise InvalidRequestError(f"hosts entry {i} ({address}): {name!r} is not a host name (letters, "
                                          "digits, '_', '.', '-'; starting with a letter, digit or '_')")
        out.append((_text(ip), tuple(names)))
    return out


def render(entries: Sequence[HostsEntry]) -> str:
    """The text of a hosts file with ``entries`` (checked), one ``address name alias...`` line each."""
    return _HEADER + "".join(f"{address} {' '.join(names)}\n" for address, names in entries)


# -- glibc's getent hosts, over a hosts file ----------------------------------------------------------------------
def getent_hosts(entries: Sequence[HostsEntry], keys: Sequence[str]) -> ExecResult:
    """What ``getent hosts KEY...`` prints with ``entries`` as the hosts file (see the module docstring)."""
    out: list[str] = []
    for key in keys:
        found = _lookup(entries, key)
        if found is None:
            return ExecResult(2, "".join(out), "")
        out += found
    return ExecResult(0, "".join(out), "")


def _lookup(entries: Sequence[HostsEntry], key: str) -> list[str] | None:
    address = _parse(key)
    if address is not None:
        for text, names in entries:
            if _in_family(text, address.version) == address:
                return [_line(address, names[0], names[1:])]
        return None
    for version in (6, 4):
        wanted = _fold(key)
        first: tuple[str, list[str]] | None = None
        addresses: list[_Address] = []
        for text, names in entries:
            ip = _in_family(text, version)
            if ip is None or not any(_fold(name) == wanted for name in names):
                continue
            if first is None:
                first = (names[0], list(names[1:]))
            else:
                first[1].extend(names[1:])
                if names[0] != first[0]:
                    first[1].append(names[0])
            addresses.append(ip)
        if first is not None:
            return [_line(ip, first[0], first[1]) for ip in addresses]
    return None


def _parse(key: str) -> _Address | None:
    """``key`` as ``inet_pton`` reads it (IPv6 first), or None for a name."""
    if "%" in key:
        return None
    for cls in (ipaddress.IPv6Address, ipaddress.IPv4Address):
        try:
            return cls(key)
        except ValueError:
            pass
    return None


def _in_family(text: str, version: int) -> _Address | None:
    """The address of a hosts line as glibc's files backend reads it for a lookup of IP ``version``."""
    ip = ipaddress.ip_address(text)
    if ip.version == version:
        return ip
    if version == 4 and isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip == ipaddress.IPv6Address("::1"):
            return ipaddress.IPv4Address("127.0.0.1")
    return None


def _fold(text: str) -> str:
    """ASCII lower case, as ``strcasecmp`` in the C locale compares."""
    return text.translate(_LOWER)


_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _line(ip: _Address, name: str, aliases: Sequence[str]) -> str:
    return f"{_text(ip):<15} {' '.join([name, *aliases])}\n"


def _text(ip: _Address) -> str:
    """``ip`` as ``inet_ntop`` writes it (``::ffff:10.0.0.7``, where Python before 3.13 says ``::ffff:a00:7``)."""
    return socket.inet_ntop(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, ip.packed)


# -- kernel: /etc/netns/NS ---------------------------------------------------------------------------------------
def etc_dir(ns: str) -> str:
    """``/etc/netns/NS``; ``ValueError`` for a name that cannot be a namespace's."""
    _netns.namespace_path(ns)   # the same name rules as /run/netns/NS
    return f"{ETC_NETNS_DIR}/{ns}"


def command(ns: str, argv: Sequence[str]) -> list[str]:
    """The command line that runs ``argv`` in namespace ``ns`` seeing its files: ``ip netns exec`` when
    ``/etc/netns/NS`` exists, else ``nsenter --net`` (no private mount namespace needed)."""
    if os.path.isdir(etc_dir(ns)):
        return ["ip", "netns", "exec", ns, *argv]
    return _netns.nsenter_argv(ns, argv)


def write_hosts(ns: str, text: str) -> None:
    """Replace ``/etc/netns/NS/hosts`` with ``text``, and ``resolv.conf`` with :data:`RESOLV_CONF`."""
    write(ns, RESOLV_CONF, "resolv.conf")
    write(ns, text, "hosts")


def write(ns: str, text: str, filename: str) -> None:
    """Replace ``/etc/netns/NS/FILENAME`` with ``text`` atomically (``OSError`` on failure)."""
    directory = etc_dir(ns)
    for attempt in range(3):   # remove() of another namespace may take /etc/netns away between the two steps
        try:
            os.makedirs(directory, mode=0o755, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{ns}.{filename}.", dir=ETC_NETNS_DIR)
            break
        except FileNotFoundError:
            if attempt == 2:
                raise
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, f"{directory}/{filename}")
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def remove(ns: str) -> None:
    """Remove ``/etc/netns/NS`` and its files (idempotent), then ``/etc/netns`` if that left it empty."""
    try:
        shutil.rmtree(etc_dir(ns))
    except FileNotFoundError:
        return
    try:
        os.rmdir(ETC_NETNS_DIR)
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT, errno.EBUSY):
            raise
