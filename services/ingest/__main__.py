"""``python -m services.ingest``: the supervisor with the settings of the environment."""

import sys

from services.ingest import run
from speeddata.config import SettingsError, load_settings

try:
    settings = load_settings()
except SettingsError as e:
    sys.exit(f"event=error service=ingest msg={e!s:.500}")
sys.exit(run(settings))
