"""``salesops publish``: the published serving versions; ``--rollback`` restores the previous one.

Publishing itself happens only in the gated pipeline (the ``publish`` asset of
``nightly_refresh``); this command lists the kept versions and rolls back. A rollback copies the
archived files of the previous version (or ``--to VERSION``) over ``SALESOPS_SERVING`` and
``SALESOPS_SERVING_RESTRICTED`` with an atomic rename, byte for byte, and logs it in
``SALESOPS_STATUS``. Readers that have the old file open keep reading it.
"""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "publish",
        help="list the published serving versions or roll back to the previous one",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "--rollback",
        action="store_true",
        help="serve the version before the current one again (byte for byte)",
    )
    parser.add_argument(
        "--to", metavar="VERSION", help="with --rollback: the version to serve instead"
    )
    parser.set_defaults(handler=_publish)


def _publish(args) -> int:
    from orchestration.quality import publish, status
    from salesops.config import load_settings

    settings = load_settings()
    if args.to and not args.rollback:
        raise ValueError("--to needs --rollback")
    if settings.dbt_target == "postgres":
        return _publish_postgres(args)
    paths = publish.ServingPaths.from_settings(settings)
    if args.rollback:
        try:
            result = publish.rollback(paths, to=args.to)
        except publish.PublishError as exc:
            print(f"salesops publish: {exc}", file=sys.stderr)
            return 1
        status.record_publish(settings.status, result.log_entry(paths))
        print(
            f"rolled back {paths.serving} from {result.previous_version} to {result.version} "
            f"(sha256 {result.serving_sha256[:12]})"
        )
        return 0
    manifest = publish.read_manifest(paths)
    if not manifest["versions"]:
        print(f"no published version of {paths.serving} yet")
        return 0
    print(f"serving file: {paths.serving}")
    for entry in manifest["versions"]:
        marker = "*" if entry["version"] == manifest["current"] else " "
        marts = entry.get("marts") or {}
        print(
            f"{marker} {entry['version']}  as of {entry.get('as_of_date') or '-'}  "
            f"run {(entry.get('run_id') or '-')[:8]}  {len(marts)} marts  "
            f"{sum(marts.values()):,} rows"
        )
    return 0


def _publish_postgres(args) -> int:
    """PostgreSQL keeps two builds: ``marts`` (served) and ``marts_prev``; a rollback swaps them
    (docs/scale-out.md)."""
    from connectors.destinations.postgres import PostgresConnection
    from orchestration.quality import publish_postgres

    serving = publish_postgres.serving_connection(PostgresConnection.from_env())
    if args.to:
        print("salesops publish: PostgreSQL keeps one previous build; omit --to", file=sys.stderr)
        return 1
    if args.rollback:
        try:
            publish_postgres.rollback(serving)
        except publish_postgres.PostgresPublishError as exc:
            print(f"salesops publish: {exc}", file=sys.stderr)
            return 1
    con = serving.connect()
    try:
        build = publish_postgres.served_build(con)
    finally:
        con.close()
    if build is None:
        print(f"no published build in {serving.describe()} yet")
        return 0
    marts = build["marts"] or {}
    print(
        f"{'rolled back: ' if args.rollback else ''}{serving.describe()} serves build "
        f"{build['build_id']} as of {build['as_of_date'] or '-'}: {len(marts)} marts, "
        f"{sum(marts.values()):,} rows"
    )
    return 0
