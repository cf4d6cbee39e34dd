"""The ``netlab`` command: thin front end over the library (render, never decide)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from netlab.errors import EXIT_CODE, NetlabError, ValidationError

__all__ = ["app", "main"]

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


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
) -> None:
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


@app.command()
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


@app.command()
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


@app.command()
def plan(file: FileArg, as_json: JsonOpt = False) -> None:
    """Show the addresses and the kernel objects a deploy would create (touches nothing)."""
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
    table = Table(title=f"kernel objects ({len(objects)})")
    for column in ("kind", "namespace", "name", "detail"):
        table.add_column(column)
    for obj in objects:
        table.add_row(obj.kind, obj.namespace, obj.name, obj.detail)
    console.print(table)


def main() -> None:
    """Entry point: run the app; render netlab errors without a traceback unless --debug."""
    debug = "--debug" in sys.argv[1:]
    try:
        app()
    except ValidationError as exc:
        if debug:
            raise
        for problem in exc.problems:
            print(problem.format(), file=sys.stderr)
        _err().print(f"error: {len(exc.problems)} problem(s)", style="red")
        sys.exit(EXIT_CODE[exc.kind])
    except NetlabError as exc:
        if debug:
            raise
        _err().print(f"error: {exc}", style="red", markup=False)
        sys.exit(EXIT_CODE[exc.kind])
