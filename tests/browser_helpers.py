"""A JupyterLab server and a headless Chromium for the real-browser test (see platform notes: Debian chromium +
Playwright). The server is started by PID and stopped by that PID; its config, data and runtime dirs are private."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
#: flags that keep Chromium from reaching out to the internet on this closed machine (platform notes)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
ARTIFACTS = Path(os.environ.get("NETLAB_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))


def browser_missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (Debian package chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the Python package playwright is missing"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class LabServer:
    url: str
    token: str
    root: Path

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}&reset"


@contextmanager
def jupyterlab(repo: Path, workdir: Path) -> Iterator[LabServer]:
    """JupyterLab serving a copy of ``repo``'s notebooks and scenarios (the originals are never saved over)."""
    shutil.copytree(repo / "notebooks", workdir / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copytree(repo / "scenarios", workdir / "scenarios")
    home = workdir / "jupyter-home"
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
               JUPYTERLAB_SETTINGS_DIR=str(home / "settings"), JUPYTER_PLATFORM_DIRS="1")
    env.pop("MPLBACKEND", None)
    notices = home / "settings" / "@jupyterlab" / "apputils-extension"
    notices.mkdir(parents=True)
    (notices / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    port, token = _free_port(), secrets.token_hex(16)
    log = (workdir / "jupyterlab.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--allow-root",
         f"--ServerApp.token={token}", f"--ServerApp.root_dir={workdir / 'notebooks'}", "--LabApp.news_url=",
         "--LabServerApp.announcements_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start; see {workdir / 'jupyterlab.log'}") from None
                time.sleep(0.2)
        yield LabServer(url, token, workdir / "notebooks")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)     # its own session: the server and the kernels it started
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        log.close()
