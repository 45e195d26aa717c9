"""``python -m services.bus``: the bus proxy in the foreground."""

import sys

from services.bus.main import main

sys.exit(main())
