"""The `displacement` command. Subcommands live in pipeline/commands/, one module each.

Errors the user can act on (a bad file, a missing setting) are printed as one clear line with exit
code 2; no traceback reaches the user unless DISPLACEMENT_DEBUG is set.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from pipeline import commands
from pipeline.schema import InputError, one_line, printable


class UsageError(Exception):
    """A problem the user can fix: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="displacement",
        description="Scale and pace of displacement and civilian casualties: ingest, validate, aggregate, publish.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"pipeline.commands.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (InputError, UsageError) as exc:
        print(f"displacement: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("displacement: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # what reads the output stopped early (`| head`): as other tools, say nothing
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:  # last line of defence: one line, not a traceback
        if os.environ.get("DISPLACEMENT_DEBUG"):
            raise
        print(f"displacement: unexpected error: {type(exc).__name__}: {printable(str(exc))} "
              "(set DISPLACEMENT_DEBUG=1 for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    # run as `python -m pipeline.cli`: use the importable module so commands raise the same UsageError
    from pipeline.cli import main as _main

    sys.exit(_main())
