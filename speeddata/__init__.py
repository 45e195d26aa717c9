"""SpeedData: telemetry capture. The library users import (client, Sender, bus, archive)."""

from speeddata.sender import Sender

__all__ = ["Sender"]

__version__ = "0.7.0"
