"""Host driver: the sandbox shares its host's network namespace (Docker's ``--network host``).

No steps at all: the lab places a host-network sandbox in the host namespace
itself instead of giving it one of its own (see :mod:`netlab.lab`).
"""

from __future__ import annotations

from netlab.backends import Step
from netlab.drivers import BUILTIN_DRIVERS, DriverInfo, EndpointContext, NetworkContext

__all__ = ["HostDriver"]


class HostDriver:
    info: DriverInfo = BUILTIN_DRIVERS["host"]

    def create_network(self, ctx: NetworkContext) -> list[Step]:
        return []

    def delete_network(self, ctx: NetworkContext) -> list[Step]:
        return []

    def join(self, ctx: EndpointContext) -> list[Step]:
        return []

    def leave(self, ctx: EndpointContext) -> list[Step]:
        return []
