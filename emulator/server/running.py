"""Run the emulator in a background thread (tests, the demo) or in the foreground (CLI)."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

from emulator.server.core import Credentials, EmulatorHTTPServer, EmulatorState, Faults, make_server


@dataclass
class RunningEmulator:
    server: EmulatorHTTPServer
    thread: threading.Thread

    @property
    def state(self) -> EmulatorState:
        return self.server.state

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def credentials(self) -> Credentials:
        return self.state.credentials

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_emulator(
    seed: int = 42,
    scale: str = "tiny",
    as_of: dt.date = dt.date(2026, 11, 26),
    dirty_rate: float | None = None,
    faults: str | Faults | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    tls_context=None,
    credentials: Credentials | None = None,
) -> RunningEmulator:
    """Start a server on a free port (``port=0``) in a daemon thread."""
    if not isinstance(faults, Faults):
        faults = Faults.parse(faults)
    state = EmulatorState(seed, scale, as_of, dirty_rate, faults, credentials)
    server = make_server(state, host, port, tls_context)
    thread = threading.Thread(target=server.serve_forever, name="salesops-emulator", daemon=True)
    thread.start()
    return RunningEmulator(server, thread)
