"""SpeedData: telemetry capture. The library users import (client, Sender, bus, DataSet)."""

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from speeddata.dataset import Set, read_avro, read_hdf5

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
    "Set",
    "SpeedDataClient",
    "TooLarge",
    "Unauthorized",
    "Unreachable",
    "UnsupportedMediaType",
    "read_avro",
    "read_hdf5",
]

__version__ = "0.7.0"

_DATASET = ("Set", "read_avro", "read_hdf5")


def __getattr__(name: str) -> Any:
    """The DataSet names, imported on first use: numpy and h5py stay out of the CLI's start."""
    if name in _DATASET:
        from speeddata import dataset

        return getattr(dataset, name)
    raise AttributeError(f"module 'speeddata' has no attribute {name!r}")
