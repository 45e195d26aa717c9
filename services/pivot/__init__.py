"""The pivot: any time range of the archive's channels as HDF5, CSV or Parquet, over REST.

``create_app(settings)`` builds the Starlette app, ``run(settings)`` serves it."""

from services.pivot.app import create_app
from services.pivot.main import run

__all__ = ["create_app", "run"]
