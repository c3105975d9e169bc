"""``salesops emulator serve|truth``: the synthetic org over the real API wire formats."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from emulator.scales import DEFAULT_DIRTY_RATE, SCALES


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from exc


def _org_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", choices=list(SCALES), default="small")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--as-of", type=_date, default=dt.date(2026, 11, 26), help="last complete day of the org"
    )
    parser.add_argument(
        "--dirty-rate",
        type=float,
        default=DEFAULT_DIRTY_RATE,
        help="share of records with a defect",
    )


def register(subparsers) -> None:
    group = subparsers.add_parser(
        "emulator", help="the local Salesforce, HubSpot and Google Ads emulator"
    )
    commands = group.add_subparsers(dest="emulator_command", required=True, metavar="SUBCOMMAND")

    serve = commands.add_parser("serve", help="serve the org over HTTP")
    _org_arguments(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8900)
    serve.add_argument(
        "--faults", default="", help="name=value[,...], e.g. rate_limit=0.05,token_expiry=50"
    )
    serve.add_argument("--tls", action="store_true", help="serve HTTPS with a throwaway test CA")
    serve.add_argument("--salesforce-client-id", default="demo-client-id")
    serve.add_argument("--salesforce-client-secret", default="demo-client-secret")
    serve.add_argument("--salesforce-refresh-token", default="demo-refresh-token")
    serve.add_argument("--hubspot-token", default="demo-hubspot-token")
    serve.add_argument("--google-ads-developer-token", default="demo-developer-token")
    serve.set_defaults(handler=_serve)

    truth = commands.add_parser("truth", help="write the org's ground truth as Parquet")
    _org_arguments(truth)
    truth.add_argument("--advance-days", type=int, default=0, help="simulate this many more days")
    truth.add_argument("--out", type=Path, required=True, help="output directory")
    truth.set_defaults(handler=_truth)


def _serve(args) -> int:
    from emulator.server.core import Credentials, EmulatorState, Faults, make_server

    credentials = Credentials(
        salesforce_client_id=args.salesforce_client_id,
        salesforce_client_secret=args.salesforce_client_secret,
        salesforce_refresh_token=args.salesforce_refresh_token,
        hubspot_token=args.hubspot_token,
        google_ads_developer_token=args.google_ads_developer_token,
    )
    state = EmulatorState(
        args.seed, args.scale, args.as_of, args.dirty_rate, Faults.parse(args.faults), credentials
    )
    tls_context, ca_path = None, None
    if args.tls:
        from emulator.server.tls import make_tls_context

        tls_context, ca_path = make_tls_context(args.host)
    server = make_server(state, args.host, args.port, tls_context)
    base = server.base_url
    print(
        f"Salesforce  {base}  (token URL {base}/services/oauth2/token, client id {credentials.salesforce_client_id}, "
        f"secret {credentials.salesforce_client_secret}, refresh token {credentials.salesforce_refresh_token})"
    )
    print(f"HubSpot     {base}  (bearer token {credentials.hubspot_token})")
    print(
        f"Google Ads  {base}  (token URL {base}/token, developer token {credentials.google_ads_developer_token}, "
        f"customer 1234567890)"
    )
    if ca_path:
        print(f"TLS CA      {ca_path}")
    sys.stdout.flush()
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def _truth(args) -> int:
    from emulator.truth import generate_truth

    manifest = generate_truth(
        args.seed, args.scale, args.as_of, args.out, args.advance_days, args.dirty_rate
    )
    total = sum(manifest["rows"].values())
    print(
        f"wrote {len(manifest['rows'])} tables, {total:,} rows, view day {manifest['view_day']} to {args.out}"
    )
    return 0
