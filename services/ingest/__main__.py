"""``python -m services.ingest``: the supervisor with the settings of the environment; a
start that fails is one ``event=error`` line and exit status 2."""

import sys

from services.ingest import run
from services.ingest.supervisor import START_FAILED
from speeddata._service import StartError
from speeddata._signals import die_with_parent
from speeddata.config import SettingsError, load_settings
from speeddata.logfmt import log_error

die_with_parent()
try:
    sys.exit(run(load_settings()))
except (SettingsError, StartError) as e:
    log_error("ingest", e)
    sys.exit(START_FAILED)
