"""``salesops dev``: the Dagster UI on the demo data; ``salesops dev-db``: a private warehouse
copy for an analyst's ``dbt build --target dev``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import duckdb

from salesops.config import PROJECT_ROOT, ConfigError, load_settings


def register(subparsers) -> None:
    dev = subparsers.add_parser(
        "dev",
        help="the Dagster UI (webserver and daemon) on the demo data, with the emulator serving",
    )
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument("--scale", default="small", help="emulator scale (default small)")
    dev.add_argument(
        "--no-emulator",
        action="store_true",
        help="do not start the emulator: use the connector variables of the environment",
    )
    dev.set_defaults(handler=_dev)

    dev_db = subparsers.add_parser(
        "dev-db",
        help="copy the warehouse to SALESOPS_DEV_WAREHOUSE for `dbt build --target dev`",
        description=(
            "Make a private, consistent copy of SALESOPS_WAREHOUSE at SALESOPS_DEV_WAREHOUSE "
            "(default $SALESOPS_DATA_DIR/dev_warehouse.duckdb), so dbt development never holds "
            "the production file's lock. Refuses while another process writes the warehouse."
        ),
    )
    dev_db.set_defaults(handler=_dev_db)


# --------------------------------------------------------------------------------------------
# dev
# --------------------------------------------------------------------------------------------


def _dev(args) -> int:
    from orchestration.launch import use_home
    from salesops.commands.demo import DEMO_AS_OF, emulator_env, start_demo_emulator

    settings = load_settings()
    home = use_home(settings)
    running = None
    if not args.no_emulator:
        running = start_demo_emulator(args.scale, 42, DEMO_AS_OF)
        os.environ.update(emulator_env(running))
        print(f"Emulator ({args.scale} org) on {running.base_url}; connectors point at it.")
    print(f"Dagster instance in {home}; UI on http://{args.host}:{args.port}")
    sys.stdout.flush()
    command = [
        str(Path(sys.executable).parent / "dagster"),
        "dev",
        "-m",
        "orchestration.definitions",
        "--working-directory",
        str(PROJECT_ROOT),
        "--host",
        args.host,
        "--port",
        str(args.port),
    ]
    try:
        # Run from DAGSTER_HOME: dagster warns about the repository's dagster.yaml otherwise.
        return subprocess.call(command, cwd=home)
    except KeyboardInterrupt:
        return 130
    finally:
        if running is not None:
            running.stop()


# --------------------------------------------------------------------------------------------
# dev-db
# --------------------------------------------------------------------------------------------


class WarehouseBusy(ConfigError):
    """Another process holds the warehouse."""


def dev_warehouse_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    settings = load_settings(environ)
    value = environ.get("SALESOPS_DEV_WAREHOUSE", "").strip()
    if not value:
        return settings.data_dir / "dev_warehouse.duckdb"
    path = Path(value).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def _busy(source: Path) -> WarehouseBusy:
    return WarehouseBusy(
        f"{source} is in use by another process (a running job, `salesops run` or a dbt build "
        "holds it); try again when it has finished. Nothing was copied."
    )


def copy_warehouse(source: Path, target: Path) -> int:
    """Checkpoint ``source`` and copy it to ``target`` while holding a read lock, so no writer
    can change it mid-copy; the copy appears at ``target`` atomically. Returns its size."""
    if not source.exists():
        raise ConfigError(
            f"there is no warehouse at {source} yet: run `salesops run` (or `make demo`) first"
        )
    if source.resolve() == target.resolve():
        raise ConfigError("SALESOPS_DEV_WAREHOUSE must differ from SALESOPS_WAREHOUSE")
    try:
        with duckdb.connect(str(source)) as con:  # fails while a writer holds the file
            con.execute("CHECKPOINT")
    except duckdb.IOException as exc:
        raise _busy(source) from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        reader = duckdb.connect(str(source), read_only=True)  # blocks writers while copying
    except duckdb.IOException as exc:
        raise _busy(source) from exc
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        wal = source.with_name(source.name + ".wal")
        if wal.exists():  # empty after the checkpoint, unless a writer slipped in between
            shutil.copyfile(wal, tmp + ".wal")
        with duckdb.connect(tmp) as check:
            check.execute("CHECKPOINT")
        Path(tmp + ".wal").unlink(missing_ok=True)
        for stale in (target.with_name(target.name + ".wal"),):
            stale.unlink(missing_ok=True)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        Path(tmp + ".wal").unlink(missing_ok=True)
        raise
    finally:
        reader.close()
    return target.stat().st_size


def _dev_db(args) -> int:
    settings = load_settings()
    target = dev_warehouse_path()
    size = copy_warehouse(settings.warehouse, target)
    print(f"Copied {settings.warehouse} to {target} ({size / 1e6:,.1f} MB).")
    print("Build against the copy (from the repository root):")
    print(
        "  dbt build --project-dir dbt_project --profiles-dir dbt_project --target dev "
        "--vars '{as_of_date: \"YYYY-MM-DD\"}'"
    )
    print(
        "The dev target reads SALESOPS_DEV_WAREHOUSE (default $SALESOPS_DATA_DIR/dev_warehouse.duckdb);"
        " run `salesops dev-db` again for fresh data."
    )
    return 0
