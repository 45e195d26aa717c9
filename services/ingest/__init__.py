"""The ingest supervisor: starts one zmq_relay per channel of the registry (reconciled at start,
every ``ingest.registry_poll_s`` and on ``registry.*`` events), restarts a relay that exits
(capped back-off), and reports every start, exit, back-off and stop as
``ingest.relay.<channel>``."""

from services.ingest.supervisor import run

__all__ = ["run"]
