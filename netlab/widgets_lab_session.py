"""The lab behind a LabView: one handle on it, deploy and teardown that keep the handle right, backend rules.

:class:`LabSession` raises (netlab's error tree); :class:`~netlab.widgets_lab.LabView`
renders. After any deploy or teardown, failed or not, :attr:`LabSession.lab` is a
handle on the lab exactly when the lab is deployed, so Tear down always has
something to take down. Handles are opened with ``keep=True``: closing one
releases it and leaves the lab deployed; only :meth:`LabSession.teardown` removes it.

**One queue.** Jupyter runs widget callbacks on more than one thread (ipykernel 7
handles some comm messages on a subshell thread) and a click may arrive while a
deploy runs, so every use of the handle goes through the session's own worker
thread (:meth:`LabSession.call`): the view's actions run one at a time, in order.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from netlab.controller import Progress
from netlab.errors import ConflictError, InvalidRequestError, NetlabError, NotFoundError, NotSupportedError
from netlab.labapi import Lab
from netlab.loading import parse_file
from netlab.model import Topology
from netlab.runtime import BACKENDS

__all__ = ["LabSession", "backend_of", "kernel_unavailable", "lab_name"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def kernel_unavailable() -> str | None:
    """Why the kernel backend cannot run in this process (None: it can)."""
    if os.geteuid() != 0:
        return "not root (the kernel backend creates network namespaces)"
    try:
        from netlab.backends.kernel import KernelBackend
    except ImportError as exc:  # pragma: no cover - pyroute2 is part of the kernel extra
        return f"cannot load the kernel backend: {exc}"
    return KernelBackend.probe()


def lab_name(source: Topology | str | Path, name: str | None) -> str:
    """The name a lab deployed from ``source`` gets (a file that cannot be read is named after its stem)."""
    if name:
        return name
    return source.name if isinstance(source, Topology) else parse_file(source)[0].name


def backend_of(lab: Lab) -> str:
    """``sim`` or ``kernel``: the backend ``lab`` is deployed on, as :data:`netlab.runtime.BACKENDS` names it."""
    return "sim" if lab.backend.name == "simulated" else lab.backend.name


class LabSession:
    """One lab (deployed or not) from ``source`` (a Topology or a scenario file), named ``name`` or as the model."""

    def __init__(self, source: Topology | str | Path, name: str | None, state_dir: str | Path | None,
                 kernel_reason: str | None) -> None:
        self.source = source
        self.state_dir = state_dir
        self.kernel_reason = kernel_reason
        self._name = name
        self.backend = "sim"
        #: a handle on the lab while it is deployed, else None (use it through :meth:`call`)
        self.lab: Lab | None = None
        self._worker_id: int | None = None
        self._stopped = False
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="netlab-labview",
                                          initializer=self._mark_worker)

    def _mark_worker(self) -> None:
        self._worker_id = threading.get_ident()

    def run(self, work: Callable[[], T]) -> T:
        """``work()`` on the session's thread (at once when already there); its result or its exception."""
        if threading.get_ident() == self._worker_id:
            return work()
        if self._stopped:
            raise InvalidRequestError("this lab view is closed")
        return self._worker.submit(work).result()

    def call(self, work: Callable[[Lab], T]) -> T:
        """``work(lab)`` on the session's thread; NotFoundError when the lab is not deployed."""
        def with_lab() -> T:
            if self.lab is None:
                raise NotFoundError(f"lab {self.name!r} is not deployed")
            return work(self.lab)
        return self.run(with_lab)

    def shutdown(self) -> None:
        """Stop the session's thread (after its queued work); :meth:`run` is refused from then on."""
        self._stopped = True
        self._worker.shutdown(wait=True)

    @property
    def name(self) -> str:
        """The name the lab has or will have."""
        return self.lab.name if self.lab is not None else lab_name(self.source, self._name)

    def choose(self, backend: str) -> None:
        """Make ``backend`` the backend of the next deploy (refused while deployed elsewhere, or if it cannot run)."""
        if backend not in BACKENDS:
            raise InvalidRequestError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
        if self.lab is not None and backend != self.backend:
            raise ConflictError(f"lab {self.lab.name!r} is deployed on the {self.backend} backend; tear it down "
                                f"before choosing {backend}")
        if backend == "kernel" and self.kernel_reason is not None:
            raise NotSupportedError(f"the kernel backend cannot run here: {self.kernel_reason}")
        self.backend = backend

    def attach(self) -> Lab | None:
        """Take over the lab if it is deployed already (a kept kernel lab, a notebook cell run again).

        Raises when it is deployed but cannot be opened here (e.g. on the kernel, without root).
        """
        return self.run(self._attach)

    def _attach(self) -> Lab | None:
        try:
            self.lab = Lab.attach(self.name, state_dir=self.state_dir)
        except NotFoundError:
            return None
        self.backend = backend_of(self.lab)
        return self.lab

    def deploy(self, progress: Progress) -> Lab:
        """Deploy, or reconcile the deployed lab with the model as it is now (a fresh handle: fresh snapshots)."""
        return self.run(lambda: self._deploy(progress))

    def _deploy(self, progress: Progress) -> Lab:
        self.choose(self.backend)
        previous, self.lab = self.lab, None
        name = previous.name if previous is not None else self.name
        try:
            if previous is not None:
                previous.close()  # keep=True: released, still deployed
            self.lab = Lab.up(self.source, backend=self.backend, name=self._name, keep=True,
                              state_dir=self.state_dir, progress=progress)
        except Exception:
            self._reattach(name)  # a failed reconcile leaves the lab deployed (a failed first deploy does not)
            raise
        return self.lab

    def teardown(self, progress: Progress) -> list[str]:
        """Remove every namespace of the lab; the namespaces removed."""
        return self.run(lambda: self._teardown(progress))

    def _teardown(self, progress: Progress) -> list[str]:
        lab = self.lab
        if lab is None:
            raise NotFoundError(f"nothing to tear down: lab {self.name!r} is not deployed")
        self.lab = None
        if lab.store.lab(lab.name) is None:  # taken down elsewhere (netlab down, another view): nothing to do
            lab.backend.close()  # released without saving: this handle's simulated world is out of date
            lab.store.close()
            raise NotFoundError(f"lab {lab.name!r} is not deployed any more (taken down elsewhere)")
        try:
            removed = lab.controller.down(progress)
        except Exception:
            lab.close()
            self._reattach(lab.name)
            raise
        lab.close()
        return removed

    def _reattach(self, name: str) -> None:
        try:
            self.lab = Lab.attach(name, state_dir=self.state_dir)
        except NetlabError as exc:
            log.info("lab %s is not deployed (or cannot be opened) after a failure: %s", name, exc)
            self.lab = None
