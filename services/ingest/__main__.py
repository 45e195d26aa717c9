"""``python -m services.ingest``: the supervisor with the settings of the environment."""

import sys

from services.ingest import run
from speeddata._signals import die_with_parent
from speeddata.config import SettingsError, load_settings
from speeddata.logfmt import log_error

die_with_parent()
try:
    settings = load_settings()
except SettingsError as e:
    log_error("ingest", e)
    sys.exit(2)
sys.exit(run(settings))
