"""``netlab test`` and ``netlab trace``: the scenario harness and the packet walker on the command line.

Registered on the ``netlab`` app by :mod:`netlab.cli` (:func:`register`); they
render what :mod:`netlab.scenario` and :mod:`netlab.labapi` return and decide
nothing themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from netlab.errors import InvalidRequestError

__all__ = ["register", "scenario_test", "trace"]

FileArg = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="A scenario YAML file.")]
BackendOpt = Annotated[str | None, typer.Option("--backend", help="sim or kernel (default: kernel as root, else sim).")]
StateOpt = Annotated[Path | None, typer.Option("--state-dir", envvar="NETLAB_STATE_DIR", help="Where lab state lives.")]
PlotOpt = Annotated[Path | None, typer.Option("--plot", help="Also draw it to this picture (.png, .svg, .pdf).")]
PICTURES = (".png", ".svg", ".pdf")


def _out() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 160
    return console


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=_err(), transient=True)


def _picture(path: Path | None) -> None:
    if path is not None and path.suffix.lower() not in PICTURES:
        raise InvalidRequestError(f"--plot {path}: use a .png, .svg or .pdf file name")


def _backend(choice: str | None) -> str:
    from netlab.runtime import BACKENDS, default_backend

    if choice is None:
        chosen, notice = default_backend()
        if notice:
            _err().print(f"note: {notice}", style="yellow")
        return chosen
    if choice not in BACKENDS:
        raise InvalidRequestError(f"unknown backend {choice!r}; choose one of: {', '.join(BACKENDS)}")
    return choice


def scenario_test(file: FileArg, backend: BackendOpt = None,
         keep: Annotated[bool, typer.Option("--keep", help="Leave the lab deployed afterwards.")] = False,
         plot: PlotOpt = None, state_dir: StateOpt = None) -> None:
    """Deploy a scenario, run every check of its expect: section, print a table, tear the lab down.

    Exit status: 0 when every check passes, 1 when one fails (errors as in other commands).
    A lab that was already deployed is reconciled with the file and left deployed.
    """
    from netlab.labapi import Lab
    from netlab.validation import load_valid

    topo, _ = load_valid(file)  # every problem of the file, before anything is deployed
    _picture(plot)
    deployed_on = _deployed_on(topo.name, state_dir)  # a deployed lab keeps its backend unless told otherwise
    chosen = deployed_on if backend is None and deployed_on is not None else _backend(backend)
    with _bar() as bar:
        task = bar.add_task(f"deploying {file.name}", total=None)

        def progress(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, description=label)

        lab = Lab.up(file, backend=chosen, keep=keep, state_dir=state_dir, progress=progress)
        with lab:
            if lab.was_deployed and not keep:
                lab.keep = True
                _err().print(f"note: lab {lab.name} was already deployed; it stays deployed", style="yellow")
            bar.update(task, completed=0, total=None, description="checking")
            report = lab.run_checks(progress=progress)
            matrix = report.matrix or (lab.matrix() if plot is not None else None)
    _render_report(report)
    if plot is not None and matrix is not None:
        from netlab.drawing_reach import plot_matrix

        labels, observed, expected = matrix.by_sandbox()
        plot_matrix(labels, observed, expected, title=f"{report.lab}: reachability").savefig(plot)
        _err().print(f"wrote {plot}")
    kept = f"; lab {report.lab} left deployed" if lab.keep else ""
    failed = len(report.failures)
    _err().print(f"{len(report.results) - failed} of {len(report.results)} check(s) passed on the {report.backend} "
                 f"backend ({report.prober}){kept}", style="green" if report.passed else "red")
    raise typer.Exit(0 if report.passed else 1)


def _deployed_on(lab: str, state_dir: Path | None) -> str | None:
    from netlab.labapi import deployed_backend
    from netlab.runtime import open_store

    store = open_store(state_dir)
    try:
        return deployed_backend(store, lab)
    finally:
        store.close()


def _render_report(report: Any) -> None:
    table = Table(title=f"checks of lab {report.lab} ({report.backend})")
    for column in ("", "check", "expected", "observed", "time"):
        table.add_column(column, justify="right" if column == "time" else "left")
    for result in report.results:
        mark = "[green]pass[/]" if result.passed else "[red]FAIL[/]"
        table.add_row(mark, escape(result.label), escape(result.expected), escape(result.observed),
                      f"{result.seconds:.2f} s")
        if not result.passed and result.detail:
            table.add_row("", f"[dim]{escape(result.detail)}[/]", "", "", "")
    _out().print(table)


def trace(lab: Annotated[str, typer.Argument(help="A deployed lab (as `netlab status` lists it).")],
          src: Annotated[str, typer.Argument(help="The container the packet leaves from.")],
          dst: Annotated[str, typer.Argument(help="A container, an IPv4 address, or `internet`.")],
          port: Annotated[str | None, typer.Option("--port", help="PORT/tcp or PORT/udp (default: a ping).")] = None,
          backend: Annotated[str | None, typer.Option(
              "--backend", help="kernel: walk a snapshot read back from the real lab; sim: the simulator's "
                                "prediction for the same model (default: the lab's own backend).")] = None,
          plot: PlotOpt = None, state_dir: StateOpt = None) -> None:
    """Show the path a packet takes from SRC to DST, hop by hop, and why it stops if it does.

    Exit status: 0 when the packet is delivered and answered, 1 when it is not.
    """
    from netlab.labapi import Lab, parse_port
    from netlab.runtime import BACKENDS

    if port is not None:
        parse_port(port)
    _picture(plot)
    if backend is not None and backend not in BACKENDS:
        raise InvalidRequestError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    with Lab.attach(lab, state_dir) as deployed:
        deployed.resolve(src, dst)  # unknown names fail here, before any snapshot is read
        walked_on = "sim" if deployed.backend.name == "simulated" else deployed.backend.name
        if backend is None or backend == walked_on:
            found = deployed.trace(src, dst, port)
        elif backend == "sim":
            with deployed.twin() as twin:
                found = twin.trace(src, dst, port)
            walked_on = "sim (a simulated copy of the lab)"
        else:
            raise InvalidRequestError(f"lab {lab!r} is deployed on the simulator; --backend kernel needs a lab "
                                      "deployed on the kernel")
        topo = deployed.view.topo
    _out().print(f"trace {src} -> {dst}{' ' + port if port else ''} in lab {lab} (walked on {walked_on})")
    _out().print(found.explain(), markup=False, soft_wrap=True)
    if plot is not None:
        from netlab.drawing_reach import plot_trace

        plot_trace(topo, found).savefig(plot)
        _err().print(f"wrote {plot}")
    raise typer.Exit(0 if found.ok else 1)


def register(command: Callable[..., Callable[[Callable[..., None]], Callable[..., None]]]) -> None:
    """Add ``test`` and ``trace`` to the app through ``netlab.cli.command`` (which renders errors)."""
    command(name="test")(scenario_test)
    command(name="trace")(trace)
