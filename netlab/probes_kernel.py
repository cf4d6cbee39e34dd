"""KernelProber: the harness's questions answered with real packets in a kernel lab.

ICMP goes through raw sockets opened inside the namespaces
(:mod:`netlab.harness_icmp`): a whole matrix is sent at once and waits one
``timeout`` for all its answers. TCP and UDP use in-process listeners and
clients (:mod:`netlab.harness_listen`). Name resolution runs ``getent hosts``
in the namespace through the backend. Nothing outlives a call: every socket
and listener thread is closed before it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from netlab.backends import Backend
from netlab.errors import NetlabError
from netlab.harness_icmp import EchoProbe, echo, largest_df
from netlab.harness_listen import serving, try_connect
from netlab.probes import Listener, Prober, resolve_with

__all__ = ["KernelProber"]


class KernelProber:
    """Real traffic between namespaces of a deployed kernel lab."""

    name = "kernel traffic"

    def __init__(self, backend: Backend, ping_timeout: float = 1.0, connect_timeout: float = 2.0,
                 explainer: Callable[[], Prober] | None = None) -> None:
        self.backend = backend
        self.ping_timeout = ping_timeout
        self.connect_timeout = connect_timeout
        #: makes the prober whose walk explains an outcome (e.g. the walker over the lab's own snapshot)
        self.explainer = explainer

    def ping(self, src: str, ip: str, responder: str | None = None) -> bool:
        return echo([EchoProbe(src, ip, responder)], self.ping_timeout)[0]

    def connect(self, src: str, ip: str, port: int, proto: str, listener: Listener | None) -> bool:
        """True when the harness's server (``listener``, started for this call and stopped after) answers;
        with no server there is nothing that could."""
        if listener is None:
            return False
        with serving(listener.ns, listener.port, listener.proto) as token:
            return try_connect(src, ip, port, proto, token, self.connect_timeout)

    def largest_df(self, src: str, ip: str, responder: str | None = None) -> int | None:
        return largest_df(src, ip, responder, self.ping_timeout)

    def matrix(self, sources: Sequence[str], targets: Sequence[tuple[str, str]]) -> list[list[bool]]:
        probes = [EchoProbe(src, ip, ns) for src in sources for ns, ip in targets]
        answers = echo(probes, self.ping_timeout)
        width = len(targets)
        return [answers[row * width:(row + 1) * width] for row in range(len(sources))]

    def resolve(self, src: str, name: str) -> str | None:
        return resolve_with(self.backend, src, name)

    def explain(self, src: str, ip: str, proto: str = "icmp", port: int | None = None) -> str:
        """Real packets do not say where they were dropped: the explainer's walk does, when there is one."""
        if self.explainer is None:
            return ""
        try:
            walked = self.explainer().explain(src, ip, proto, port)
        except NetlabError as exc:  # an explanation that cannot be had must not spoil the measurement
            return f"(the packet walker cannot explain it: {exc})"
        return f"the packet walker over the lab's snapshot:\n{walked}" if walked else ""
