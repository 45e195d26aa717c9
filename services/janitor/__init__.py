"""The janitor: retention of the archive. Deletes the oldest closed archive files by age (TTL),
byte quota and free-disk floor, globally and per channel, never a file a relay holds nor one a
pending tag's pin covers; reports each deletion (``janitor.deleted.<channel>``) and a 1 Hz
``janitor.status`` on the bus."""

from services.janitor.main import run

__all__ = ["run"]
