"""The ``salesops`` command line: one entry point, one module per command group.

Each command group lives in ``salesops/commands/<name>.py`` and exposes ``register(subparsers)``;
the handler it sets returns the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = ("emulator", "extract", "publish", "run", "demo", "dev")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="salesops", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"salesops.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except ValueError as exc:  # bad input: say what and how to fix it, without a traceback
        print(f"salesops: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
