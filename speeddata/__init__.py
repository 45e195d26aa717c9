"""SpeedData: telemetry capture. The library users import (client, Sender, bus, archive)."""

from speeddata._compat import SpeedDataClient
from speeddata.client import (
    Client,
    ClientError,
    Conflict,
    Forbidden,
    Invalid,
    Malformed,
    NotFound,
    ServerError,
    TooLarge,
    Unauthorized,
    Unreachable,
    UnsupportedMediaType,
)
from speeddata.sender import Sender

__all__ = [
    "Client",
    "ClientError",
    "Conflict",
    "Forbidden",
    "Invalid",
    "Malformed",
    "NotFound",
    "Sender",
    "ServerError",
    "SpeedDataClient",
    "TooLarge",
    "Unauthorized",
    "Unreachable",
    "UnsupportedMediaType",
]

__version__ = "0.7.0"
