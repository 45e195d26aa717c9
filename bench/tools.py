"""Paths, the C programs' build, processes with readiness lines, and /proc readings."""

from __future__ import annotations

import io
import os
import random
import re
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from speeddata._process import ChildProcess
from speeddata.logfmt import LineForwarder, parse_line

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


def relay_argv(channel: str, schema: Path, data: Path, *extra: str) -> list[str]:
    """The relay's command line for ``channel`` on an ephemeral port, dying with its parent."""
    base = [str(RELAY), "--name", channel, "--port", "0", "--schema", str(schema)]
    return [*base, "--data-dir", str(data), *extra, "--die-with-parent"]


class Proc:
    """A started benchmark process (a :class:`speeddata._process.ChildProcess`); its output is
    kept, stderr and stdout lines together for `tail`, stdout alone for `last_out`."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        self.argv = list(argv)
        self.out: list[str] = []
        self._log = io.StringIO()
        self._logs = LineForwarder(self._log)
        self._child = ChildProcess(
            Path(self.argv[0]).name, self.argv, self._logs, "", env, on_stdout=self.out.append
        )

    @property
    def pid(self) -> int:
        return self._child.pid

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> dict[str, str]:
        """Waits for the `event=ready` line on stderr and returns its fields."""
        ready = self._child.wait_ready(timeout)
        if ready is None:
            self.stop()
            raise BenchError(
                f"{self.argv[0]} not ready (exit={self._child.poll()}):\n" + self.tail()
            )
        return ready

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait, then SIGKILL; waits for the output to be read; returns the exit code."""
        code = self._child.stop(timeout)
        self._logs.close()
        return code

    def wait(self, timeout: float) -> int:
        """Waits for it to exit by itself; its exit code (BenchError after `timeout` seconds)."""
        try:
            self._child.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise BenchError(f"{self.argv[0]} still running after {timeout}s") from None
        return self.stop()

    def last_out(self) -> dict[str, str]:
        """Fields of the last stdout line (the C tools print their counts there)."""
        if not self.out:
            raise BenchError(f"{self.argv[0]} printed no counts:\n" + self.tail())
        return parse_line(self.out[-1])

    def tail(self) -> str:
        return "\n".join(self._log.getvalue().splitlines()[-20:])


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
