"""``python -m services.stripchart``: the gateway in the foreground."""

import sys

from services.stripchart.main import main

sys.exit(main())
