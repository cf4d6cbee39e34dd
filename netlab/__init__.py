"""netlab: Docker libnetwork's Container Network Model for Python."""

from __future__ import annotations

from netlab.errors import (
    BackendError,
    ConflictError,
    InvalidRequestError,
    NetlabError,
    NotFoundError,
    NotSupportedError,
    Problem,
    UnavailableError,
    ValidationError,
)
from netlab.labapi import Lab
from netlab.model import Check, Endpoint, Host, Network, PortMapping, Sandbox, Topology, Underlay

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "Check",
    "ConflictError",
    "Endpoint",
    "Host",
    "InvalidRequestError",
    "Lab",
    "NetlabError",
    "Network",
    "NotFoundError",
    "NotSupportedError",
    "PortMapping",
    "Problem",
    "Sandbox",
    "Topology",
    "UnavailableError",
    "Underlay",
    "ValidationError",
]
