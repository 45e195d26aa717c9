"""SpeedData services: each a package with ``create_app(settings)`` or ``run(settings)``."""
