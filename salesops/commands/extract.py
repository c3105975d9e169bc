"""``salesops extract``: the connectors only, no Dagster."""

from __future__ import annotations

import logging


def register(subparsers) -> None:
    from connectors.extract import SOURCES

    parser = subparsers.add_parser(
        "extract", help="extract the enabled sources into SALESOPS_WAREHOUSE (no Dagster)"
    )
    parser.add_argument(
        "--source",
        action="append",
        choices=sorted(SOURCES),
        help="a source to run (repeatable); default: every configured source",
    )
    parser.add_argument(
        "--stream",
        action="append",
        metavar="N",
        help="a stream by table (opportunity) or object (Opportunity) name (repeatable)",
    )
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="read every stream from the beginning instead of from its bookmark",
    )
    parser.set_defaults(handler=_extract)


def _extract(args) -> int:
    from connectors.extract import main

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return main(args.source, args.stream, full_refresh=args.full_refresh)
