"""The ingest supervisor: starts one zmq_relay per channel, restarts a relay that exits (capped
back-off), and reports every start, exit and back-off as ``ingest.relay.<channel>``."""

from services.ingest.supervisor import run

__all__ = ["run"]
