"""The API emulator: Salesforce, HubSpot and Google Ads over HTTP on one port."""

from emulator.server.core import Credentials, EmulatorState, Faults, make_server
from emulator.server.running import RunningEmulator, start_emulator

__all__ = [
    "Credentials",
    "EmulatorState",
    "Faults",
    "RunningEmulator",
    "make_server",
    "start_emulator",
]
