"""Paths, the C programs' build, processes with readiness lines, and /proc readings."""

from __future__ import annotations

import os
import random
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BUILD = BENCH / "build"
SCHEMA = BENCH / "bench.avsc"
RELAY = ROOT / "native" / "zmq_relay" / "build" / "zmq_relay"
READY_TIMEOUT = 15.0
_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """A benchmark tool that could not be built or started; the message says which."""


def build() -> None:
    """Builds blaster, sink and copyrelay into bench/build/ (make does nothing when current)."""
    done = subprocess.run(
        ["make", "-s", "-C", str(BENCH / "c")], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"building bench/c failed:\n{done.stdout}{done.stderr}")


def program(name: str) -> str:
    return str(BUILD / name)


def free_udp_port() -> int:
    """A UDP port of 127.0.0.1 free a moment ago (for tools that cannot bind port 0 and say so)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def random_group() -> str:
    """A random loopback multicast endpoint `239.255.x.y:port`."""
    a, b = random.randrange(1, 255), random.randrange(1, 255)
    return f"239.255.{a}.{b}:{random.randrange(40000, 60000)}"


def logfmt(line: str) -> dict[str, str]:
    """`datagrams=5 bytes=490` -> {"datagrams": "5", "bytes": "490"}."""
    return dict(t.partition("=")[::2] for t in shlex.split(line) if "=" in t)


class Proc:
    """A started process; stderr and stdout are collected line by line in the background."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        self.popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.err: list[str] = []
        self.out: list[str] = []
        self._pumps = [
            threading.Thread(target=_pump, args=(self.popen.stderr, self.err), daemon=True),
            threading.Thread(target=_pump, args=(self.popen.stdout, self.out), daemon=True),
        ]
        for t in self._pumps:
            t.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> dict[str, str]:
        """Waits for the `event=ready` line on stderr and returns its fields."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.err):
                if line.startswith("event=ready"):
                    return logfmt(line)
            if self.popen.poll() is not None:
                break
            time.sleep(0.01)
        self.stop()
        raise BenchError(f"{self.argv[0]} not ready (exit={self.popen.poll()}):\n" + self.tail())

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait, then SIGKILL; waits for the output to be read; returns the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        for t in self._pumps:
            t.join(5)
        return self.popen.returncode

    def wait(self, timeout: float) -> int:
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise BenchError(f"{self.argv[0]} still running after {timeout}s") from None
        for t in self._pumps:
            t.join(5)
        return code

    def last_out(self) -> dict[str, str]:
        """Fields of the last stdout line (the C tools print their counts there)."""
        if not self.out:
            raise BenchError(f"{self.argv[0]} printed no counts:\n" + self.tail())
        return logfmt(self.out[-1])

    def tail(self) -> str:
        return "\n".join((self.err + self.out)[-20:])


def _pump(stream, sink: list[str]) -> None:  # type: ignore[no-untyped-def]
    for line in stream:
        sink.append(line.rstrip("\n"))


def effective_rcvbuf(port: int) -> int | None:
    """The receive buffer the kernel gave the UDP socket bound to `port` (`ss`'s skmem rb)."""
    done = subprocess.run(
        ["ss", "-uanmH", f"sport = :{port}"], capture_output=True, text=True, check=False
    )
    m = re.search(r"\brb(\d+)", done.stdout)
    return int(m.group(1)) if m else None


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (/proc/<pid>/stat), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def peak_rss_kib(pid: int) -> int:
    """VmHWM (peak resident set) of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise BenchError(f"no VmHWM for pid {pid}")


def udp_queued(ports: Sequence[int]) -> int:
    """Bytes waiting in the receive queues of the UDP sockets bound to `ports`."""
    return sum(int(r[4].split(":")[1], 16) for r in _udp_sockets(set(ports)))


def wait_bound(port: int, timeout: float = READY_TIMEOUT) -> None:
    """Waits until some UDP socket is bound to `port` (for tools without a readiness line)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _udp_sockets({port}):
            return
        time.sleep(0.01)
    raise BenchError(f"nothing bound UDP port {port} within {timeout}s")


def _udp_sockets(ports: set[int]) -> list[list[str]]:
    """Rows of /proc/net/udp whose local port is in `ports`."""
    rows = [line.split() for line in Path("/proc/net/udp").read_text().splitlines()[1:]]
    return [r for r in rows if int(r[1].rsplit(":", 1)[1], 16) in ports]


def wait_drained(ports: Sequence[int], timeout: float = 10.0) -> None:
    """Waits until the receivers have read everything queued on their sockets (twice empty,
    50 ms apart, so a datagram a relay is still forwarding reaches its listener)."""
    deadline = time.monotonic() + timeout
    empty = 0
    while empty < 2 and time.monotonic() < deadline:
        empty = empty + 1 if udp_queued(ports) == 0 else 0
        time.sleep(0.05)
