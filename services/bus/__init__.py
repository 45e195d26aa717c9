"""The bus: the XSUB/XPUB proxy with its last-value cache. ``run(settings)`` serves it."""

from services.bus.main import run

__all__ = ["run"]
