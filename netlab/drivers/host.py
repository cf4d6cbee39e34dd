"""Host driver: the sandbox shares its host's network namespace (Docker's ``--network host``).

No steps at all: the lab places a host-network sandbox in the host namespace
itself instead of giving it one of its own (see :mod:`netlab.lab`).
"""

from __future__ import annotations

from netlab.drivers import BUILTIN_DRIVERS, DriverInfo
from netlab.drivers.null import NullDriver

__all__ = ["HostDriver"]


class HostDriver(NullDriver):
    """Like the null driver, no kernel steps; the difference is where the sandbox lives."""

    info: DriverInfo = BUILTIN_DRIVERS["host"]
