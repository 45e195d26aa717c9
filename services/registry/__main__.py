"""``python -m services.registry``: the registry in the foreground."""

import sys

from services.registry.main import main

sys.exit(main())
