"""SpeedData: telemetry capture. The library users import (client, Sender, bus, archive)."""

__version__ = "0.7.0"
