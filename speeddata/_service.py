"""What the services' starts share: :class:`StartError`, raised by a service's ``run`` when it
cannot start. Its entry point (``python -m services.<name>``) prints it as its one logfmt error
line; ``sdctl serve`` as its one ``sdctl: error: ...`` line."""

from __future__ import annotations


class StartError(Exception):
    """A service cannot start: the message says why in one line; :attr:`code` is the exit
    status its process ends with."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(" ".join(message.split()))
        self.code = code
