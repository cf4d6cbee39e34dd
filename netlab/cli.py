"""The ``netlab`` command: thin front end over the library (render, never decide)."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from netlab.errors import EXIT_CODE, NetlabError, NotFoundError, ValidationError

__all__ = ["app", "main"]

P = ParamSpec("P")

app = typer.Typer(
    name="netlab",
    help="Design, validate, draw and deploy container networks (Docker's CNM) from YAML scenarios.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

FileArg = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="A scenario YAML file.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _out() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 160  # pipes and logs: do not squeeze tables into 80 columns
    return console


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _renders_errors(command: Callable[P, None]) -> Callable[P, None]:
    """Turn netlab's errors into a message and an exit code (a traceback only with --debug)."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except NetlabError as exc:
            if "--debug" in sys.argv[1:]:  # the root option; checked here so errors need no context object
                raise
            if isinstance(exc, ValidationError):
                for problem in exc.problems:
                    print(problem.format(), file=sys.stderr)
                _err().print(f"error: {len(exc.problems)} problem(s)", style="red")
            else:
                _err().print(f"error: {exc}", style="red", markup=False)
            raise typer.Exit(EXIT_CODE[exc.kind]) from None

    return run


def command(**settings: Any) -> Callable[[Callable[P, None]], Callable[P, None]]:
    """``@app.command`` that also renders netlab errors."""

    def register(function: Callable[P, None]) -> Callable[P, None]:
        wrapped = _renders_errors(function)
        app.command(**settings)(wrapped)
        return wrapped

    return register


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
) -> None:
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


@command()
def validate(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True,
                                                help="Scenario YAML files.")],
    as_json: JsonOpt = False,
) -> None:
    """Check scenario files; print every problem as file:line: code: message (hint).

    Exit status: 0 all valid, 1 some invalid, 2 usage error.
    """
    from netlab.validation import check_file

    results = [(path, check_file(path)) for path in files]
    invalid = sum(1 for _, problems in results if problems)
    if as_json:
        payload = [{"file": str(path), "valid": not problems, "problems": [p.to_dict() for p in problems]}
                   for path, problems in results]
        print(json.dumps(payload, indent=2))
    else:
        for _, problems in results:
            for problem in problems:
                print(problem.format())
        total = sum(len(problems) for _, problems in results)
        summary = (f"{len(files)} file(s) checked: all valid" if not invalid else
                   f"{len(files)} file(s) checked: {invalid} invalid, {total} problem(s)")
        _err().print(summary, style="green" if not invalid else "red")
    raise typer.Exit(1 if invalid else 0)


@command()
def draw(
    file: FileArg,
    output: Annotated[Path | None, typer.Option("-o", "--output",
                                                help="Picture to write (.png or .svg).")] = None,
) -> None:
    """Draw a scenario's topology to a PNG or SVG file."""
    from netlab.loading import load_file
    from netlab.validation import find_problems

    topo = load_file(file)
    problems = find_problems(topo)
    if problems:
        _err().print(f"warning: {file} has {len(problems)} problem(s); drawing it anyway "
                     f"(see `netlab validate {file}`)", style="yellow")
    target = output or file.with_suffix(".png")
    topo.draw(str(target))
    _err().print(f"wrote {target}")


@command()
def plan(file: FileArg, as_json: JsonOpt = False) -> None:
    """Show the addresses and every step a deploy would run (touches nothing)."""
    from netlab.planning import plan_objects
    from netlab.validation import load_valid

    topo, addressing = load_valid(file)
    objects = plan_objects(topo, addressing)
    if as_json:
        print(json.dumps({"lab": topo.name, "addressing": addressing.to_dict(),
                          "objects": [o.to_dict() for o in objects]}, indent=2))
        return
    console = _out()
    nets = Table(title=f"networks of lab {topo.name}")
    for column in ("network", "driver", "hosts", "subnet", "gateway"):
        nets.add_column(column)
    for net in topo.networks:
        info = addressing.networks.get(net.name)
        nets.add_row(net.name, net.driver + (" (internal)" if net.internal else ""),
                     ", ".join(topo.network_hosts(net.name)) or "-",
                     str(info.subnet) if info else "-", str(info.gateway) if info else "-")
    console.print(nets)
    eps = Table(title="endpoints")
    for column in ("container", "host", "network", "ip", "mac"):
        eps.add_column(column)
    for ep in topo.endpoints:
        address = addressing.endpoints.get((ep.sandbox, ep.network))
        eps.add_row(ep.sandbox, topo.host_of(ep.sandbox) or "-", ep.network,
                    str(address.ip) if address else "-", address.mac if address else "-")
    console.print(eps)
    table = Table(title=f"steps of `netlab up` ({len(objects)})")
    for column in ("group", "step", "namespace", "name", "detail"):
        table.add_column(column)
    for obj in objects:
        table.add_row(obj.group, obj.kind, obj.namespace, obj.name, obj.detail)
    console.print(table)


BackendOpt = Annotated[str | None, typer.Option("--backend", help="sim or kernel (default: kernel as root, "
                                                                "else sim; for an existing lab, the one it uses).")]
StateOpt = Annotated[Path | None, typer.Option("--state-dir", envvar="NETLAB_STATE_DIR",
                                               help="Where lab state lives.")]


class _Session:
    """Store + backend + controller for one command; saves the simulated world on exit."""

    def __init__(self, lab: str, backend: str | None, state_dir: Path | None, *, must_exist: bool = False) -> None:
        from netlab.controller import Controller
        from netlab.runtime import default_backend, open_backend, open_store

        self.store = open_store(state_dir)
        info = self.store.lab(lab)
        if must_exist and info is None:
            known = ", ".join(self.store.labs()) or "none"
            self.store.close()
            raise NotFoundError(f"lab {lab!r} is not deployed (known labs: {known})")
        if backend is None and info is not None:
            backend = "sim" if info["backend"] == "simulated" else info["backend"]
        if backend is None:
            backend, notice = default_backend()
            if notice:
                _err().print(f"note: {notice}", style="yellow")
        try:
            self.backend = open_backend(backend, self.store)
        except BaseException:
            self.store.close()
            raise
        self.controller = Controller(lab, self.backend, self.store)

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, *exc: object) -> None:
        from netlab.runtime import save_backend

        try:
            save_backend(self.backend, self.store)
        finally:
            self.backend.close()
            self.store.close()


def _progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=_err(), transient=True)


@command()
def up(file: FileArg, backend: BackendOpt = None, state_dir: StateOpt = None) -> None:
    """Deploy a scenario, or reconcile a deployed lab with it (only the difference is applied)."""
    from netlab.validation import load_valid

    topo, _ = load_valid(file)
    with _Session(topo.name, backend, state_dir) as session, _progress_bar() as bar:
        task = bar.add_task(f"up {topo.name}", total=None)

        def progress(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, description=label)

        change = session.controller.up(topo, str(file.resolve()), progress)
        backend_name = session.backend.name
    _err().print(f"lab {topo.name} is up on the {backend_name} backend: {len(change.created)} created, "
                 f"{len(change.updated)} updated, {len(change.removed)} removed, {len(change.kept)} untouched")


@command()
def down(lab: Annotated[str, typer.Argument(help="The lab's name.")], backend: BackendOpt = None,
         state_dir: StateOpt = None) -> None:
    """Remove every object of a lab (works without the file, after a crash, and twice in a row)."""
    from netlab.runtime import open_store

    store = open_store(state_dir)
    known = store.lab(lab) is not None
    store.close()
    if not known:
        _err().print(f"lab {lab} is not deployed; nothing to do")
        return
    with _Session(lab, backend, state_dir) as session, _progress_bar() as bar:
        task = bar.add_task(f"down {lab}", total=None)
        removed = session.controller.down(lambda d, t, label: bar.update(task, completed=d, total=t,
                                                                         description=label))
    _err().print(f"lab {lab} is down: {len(removed)} namespace(s) removed")


@command()
def status(lab: Annotated[str | None, typer.Argument(help="A lab; all labs when omitted.")] = None,
           as_json: JsonOpt = False, state_dir: StateOpt = None) -> None:
    """Show a lab's hosts, networks, sandboxes and endpoints with addresses and state."""
    from netlab.runtime import open_store

    if lab is None:
        store = open_store(state_dir)
        labs = [store.lab(name) for name in store.labs()]
        store.close()
        rows = [{"lab": info["name"], "backend": info["backend"], "source": info["source"]} for info in labs if info]
        if as_json:
            print(json.dumps(rows, indent=2))
            return
        table = Table(title="labs")
        for column in ("lab", "backend", "source"):
            table.add_column(column)
        for row in rows:
            table.add_row(row["lab"], row["backend"], row["source"] or "-")
        _out().print(table if rows else "no labs are deployed")
        return
    with _Session(lab, None, state_dir, must_exist=True) as session:
        data = session.controller.status()
    if as_json:
        print(json.dumps(data, indent=2))
        return
    console = _out()
    for title, rows in (("hosts", data["hosts"]), ("networks", data["networks"]),
                        ("sandboxes", data["sandboxes"]), ("endpoints", data["endpoints"])):
        table = Table(title=f"{title} of lab {lab} ({data['backend']})")
        columns = list(rows[0]) if rows else ["(none)"]
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(_cell(row[c]) for c in columns))
        console.print(table)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


@command(name="exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def exec_(lab: Annotated[str, typer.Argument(help="The lab's name.")],
          sandbox: Annotated[str, typer.Argument(help="A sandbox (container) of the lab.")],
          command: Annotated[list[str], typer.Argument(help="The command, after --.")],
          state_dir: StateOpt = None) -> None:
    """Run a command inside a sandbox: netlab exec LAB SANDBOX -- ping -c1 web."""
    with _Session(lab, None, state_dir, must_exist=True) as session:
        ns = session.controller.sandbox_namespace(sandbox)
        result = session.backend.exec(ns, command)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    raise typer.Exit(result.returncode)


def main() -> None:
    """Entry point of the ``netlab`` command."""
    app()


from netlab.cli_harness import register as _register_harness  # noqa: E402  (registers through `command` above)

_register_harness(command)
