"""``python -m services.janitor [--dry-run]``: the janitor in the foreground."""

import sys

from services.janitor.main import main

sys.exit(main())
