"""A small network of hosts on this machine for fleet tests: one network namespace per host,
each with an ``eth0`` (a veth pair) joined to a bridge in a hub namespace of its own, addressed
from 198.51.100.0/24 (TEST-NET-2, a documentation range: never any other address), with a
multicast route on eth0. Nothing is added to the machine's own namespace; :meth:`Net.remove`
deletes the namespaces (and with them their interfaces). Needs root and ``ip``."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
CLONE_NEWNET = 0x40000000

PREFIX = "198.51.100."
"""Every address of the test network is PREFIX + n (n in 1..254), /24."""


class Unavailable(RuntimeError):
    """Network namespaces cannot be made here; says why in one line."""


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if done.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


class Net:
    """Hosts by name -> address; ``exec(host)`` is the argv prefix that runs a command there."""

    def __init__(self, hosts: dict[str, int]) -> None:
        if os.geteuid() != 0 or shutil.which("ip") is None:
            raise Unavailable("network namespaces need root and iproute2's ip")
        tag = uuid.uuid4().hex[:6]
        self.hub = f"sd{tag}-hub"
        self.ns = {host: f"sd{tag}-{host}" for host in hosts}
        self.addr = {host: PREFIX + str(n) for host, n in hosts.items()}
        self._made: list[str] = []
        try:
            self._make()
        except RuntimeError as e:
            self.remove()
            raise Unavailable(f"cannot make the test network: {e}") from None

    def _make(self) -> None:
        self._add(self.hub)
        _ip("-n", self.hub, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
        _ip("-n", self.hub, "link", "set", "br0", "up")
        for i, (host, ns) in enumerate(self.ns.items()):
            self._add(ns)
            port = f"p{i}"
            _ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port,
                "netns", self.hub)  # fmt: skip
            _ip("-n", self.hub, "link", "set", port, "master", "br0", "up")
            _ip("-n", ns, "addr", "add", f"{self.addr[host]}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0")

    def _add(self, ns: str) -> None:
        _ip("netns", "add", ns)
        self._made.append(ns)

    def exec(self, host: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns[host]]

    def run(
        self, host: str, argv: Sequence[str], timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.exec(host), *argv], capture_output=True, text=True,
                              timeout=timeout)  # fmt: skip

    def call(self, host: str, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on a thread that entered ``host``'s network namespace (setns acts on
        the calling thread only): its sockets are that host's. Exceptions are raised here."""
        out: dict[str, Any] = {}

        def inside() -> None:
            try:
                fd = os.open(f"/run/netns/{self.ns[host]}", os.O_RDONLY)
                try:
                    if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns")
                finally:
                    os.close(fd)
                out["value"] = fn(*args)
            except BaseException as e:  # handed to the caller
                out["error"] = e

        thread = threading.Thread(target=inside, daemon=True)
        thread.start()
        thread.join()
        if "error" in out:
            raise out["error"]
        return out["value"]  # type: ignore[no-any-return]

    def link(self, host: str, up: bool) -> None:
        """Cuts (or restores) ``host``'s cable: its bridge port goes down, its own eth0 stays
        up (as when a switch port or the cable fails: the host sees no carrier)."""
        port = f"p{list(self.ns).index(host)}"
        _ip("-n", self.hub, "link", "set", port, "up" if up else "down")

    def remove(self) -> None:
        for ns in reversed(self._made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
        self._made.clear()
