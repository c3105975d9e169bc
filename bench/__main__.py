"""``python -m bench [NAME] [ARGS...]``: run one benchmark module of this package, or all of them.

``NAME`` is a module of ``bench`` with a ``main(argv)`` function (``generation``,
``emulator_throughput``, ...); without it every benchmark runs with ``ARGS`` (e.g. ``--scale
small``, as ``make bench`` passes).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def benchmarks() -> list[str]:
    here = str(Path(__file__).resolve().parent)
    return sorted(
        m.name for m in pkgutil.iter_modules([here]) if not m.name.startswith("_") and not m.ispkg
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    names = benchmarks()
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print("\nbenchmarks: " + ", ".join(names))
        return 0
    if argv and not argv[0].startswith("-"):
        if argv[0] not in names:
            print(f"unknown benchmark {argv[0]!r}; one of: {', '.join(names)}", file=sys.stderr)
            return 2
        names, argv = [argv[0]], argv[1:]
    status = 0
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        if callable(getattr(module, "main", None)):  # helpers without ``main`` are not benchmarks
            status = max(status, module.main(argv) or 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
