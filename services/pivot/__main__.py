"""``python -m services.pivot``: the pivot in the foreground."""

import sys

from services.pivot.main import main

sys.exit(main())
