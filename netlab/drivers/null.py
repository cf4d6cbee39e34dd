"""Null driver: the sandbox gets only its loopback interface (Docker's ``--network none``)."""

from __future__ import annotations

from netlab.backends import Step
from netlab.drivers import BUILTIN_DRIVERS, DriverInfo, EndpointContext, NetworkContext

__all__ = ["NullDriver"]


class NullDriver:
    info: DriverInfo = BUILTIN_DRIVERS["null"]

    def create_network(self, ctx: NetworkContext) -> list[Step]:
        return []

    def delete_network(self, ctx: NetworkContext) -> list[Step]:
        return []

    def join(self, ctx: EndpointContext) -> list[Step]:
        return []

    def leave(self, ctx: EndpointContext) -> list[Step]:
        return []
