"""Errors: the one exception tree of netlab, and the Problem record.

::

    NetlabError
     +-- ValidationError      (carries list[Problem]; bad model or file)
     +-- InvalidRequestError  (a malformed request / argument)
     +-- NotFoundError        (no such host, network, sandbox, endpoint, lab)
     +-- ConflictError        (already exists, already joined, overlap, in use)
     +-- UnavailableError     (pool exhausted, service down)
     +-- NotSupportedError    (feature or kernel capability missing)
     +-- BackendError         (the kernel said no; carries the errno)

Each kind maps once to an HTTP status (``HTTP_STATUS``) and to a CLI exit code
(``EXIT_CODE``). The library raises; front ends render.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "BackendError",
    "ConflictError",
    "EXIT_CODE",
    "HTTP_STATUS",
    "InvalidRequestError",
    "NetlabError",
    "NotFoundError",
    "NotSupportedError",
    "Problem",
    "UnavailableError",
    "ValidationError",
]


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One thing wrong with a model, found by loading or validation.

    Parameters
    ----------
    path : str
        Dotted path of the item at fault, e.g. ``networks.front.subnet``.
    code : str
        Stable, kebab-case identifier, e.g. ``subnet-overlap``.
    message : str
        What is wrong, naming the values involved.
    hint : str
        How to fix it.
    line : int or None
        1-based line in the source file, when the model came from a file.
    file : str or None
        The source file name.
    """

    path: str
    code: str
    message: str
    hint: str = ""
    line: int | None = field(default=None, compare=False)
    file: str | None = field(default=None, compare=False)

    def format(self) -> str:
        """Render as a compiler-style line: ``file:line: code: message (hint)``."""
        where = self.file or "<model>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        text = f"{where}: {self.code}: {self.message}"
        if self.path:
            text += f" [at {self.path}]"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


class NetlabError(Exception):
    """Base of every error netlab raises on purpose."""

    kind = "internal"


class ValidationError(NetlabError):
    """The model (or the file it came from) has problems; all are listed."""

    kind = "invalid"

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        count = len(self.problems)
        head = self.problems[0].format() if self.problems else "no details"
        more = f" (and {count - 1} more)" if count > 1 else ""
        super().__init__(f"{count} problem(s): {head}{more}")


class InvalidRequestError(NetlabError):
    kind = "bad-request"


class NotFoundError(NetlabError):
    kind = "not-found"


class ConflictError(NetlabError):
    kind = "conflict"


class UnavailableError(NetlabError):
    kind = "unavailable"


class NotSupportedError(NetlabError):
    kind = "not-supported"


class BackendError(NetlabError):
    """A kernel (or simulated kernel) operation failed."""

    kind = "backend"

    def __init__(self, message: str, errno: int | None = None) -> None:
        self.errno = errno
        super().__init__(message)


HTTP_STATUS: dict[str, int] = {
    "invalid": 400,
    "bad-request": 400,
    "not-found": 404,
    "conflict": 409,
    "unavailable": 503,
    "not-supported": 501,
    "backend": 500,
    "internal": 500,
}

EXIT_CODE: dict[str, int] = {
    "invalid": 1,
    "bad-request": 2,
    "not-found": 3,
    "conflict": 4,
    "unavailable": 5,
    "not-supported": 6,
    "backend": 7,
    "internal": 70,
}
