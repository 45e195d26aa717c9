"""The receivers under test. Each starts its processes for one run, tells the port to blast
and the process to measure, and on `finish` stops them and counts, per output, the datagrams
that arrived (an output that lost nothing shows every datagram sent)."""

from __future__ import annotations

import shutil
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import tools
from bench.relaystatus import StatusListener
from speeddata.archive import IncompleteHeader, archive_files, open_archive

CHANNEL = "bench"


RECORD_BYTES = 98
"""Size of the blaster's record of bench/bench.avsc (checked by tests/test_bench_smoke.py)."""


@dataclass(frozen=True)
class Load:
    """What each datagram carries: `records` records of RECORD_BYTES."""

    records: int

    @property
    def size(self) -> int:
        return self.records * RECORD_BYTES


@dataclass
class Outcome:
    """Datagrams delivered by each output, plus what the receiver said about itself."""

    delivered: dict[str, int]
    kernel_drops: int | None = None
    status: dict[str, Any] | None = field(default=None)


class Receiver(ABC):
    """One receiver for one run: `start`, blast its `port`, measure `pid`, then `finish`."""

    key: str
    label: str

    def __init__(self, rcvbuf: int, load: Load) -> None:
        self.rcvbuf = rcvbuf
        self.load = load
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bench-{self.key}-"))
        self.port = 0
        self.pid = 0
        self.procs: list[tools.Proc] = []

    def spawn(self, argv: list[str]) -> tools.Proc:
        """Starts a process of this receiver (stopped by `cleanup` at the latest)."""
        proc = tools.Proc(argv)
        self.procs.append(proc)
        return proc

    @abstractmethod
    def start(self) -> None:
        """Starts the processes; sets `port` (where to send) and `pid` (what to measure)."""

    @abstractmethod
    def ports(self) -> list[int]:
        """UDP ports whose receive queues must be empty before counting."""

    @abstractmethod
    def finish(self) -> Outcome:
        """Stops every process this receiver started and counts what each output got."""

    def cleanup(self) -> None:
        """Stops whatever still runs (after an error) and removes the run's files."""
        for proc in self.procs:
            proc.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _listener(receiver: Receiver) -> tuple[tools.Proc, str]:
    """A C recvmmsg multicast listener joined to a fresh loopback group."""
    group = tools.random_group()
    proc = receiver.spawn(
        [tools.program("sink"), "--group", group, "--iface", "127.0.0.1",
         "--rcvbuf", str(receiver.rcvbuf)]
    )  # fmt: skip
    proc.wait_ready()
    return proc, group


def _count(proc: tools.Proc) -> int:
    proc.stop()
    return int(proc.last_out()["datagrams"])


class Sink(Receiver):
    key, label = "sink", "recvmmsg sink"

    def start(self) -> None:
        self.proc = self.spawn([tools.program("sink"), "--rcvbuf", str(self.rcvbuf)])
        self.port = int(self.proc.wait_ready()["udp"].rsplit(":", 1)[1])
        self.pid = self.proc.pid

    def ports(self) -> list[int]:
        return [self.port]

    def finish(self) -> Outcome:
        self.proc.stop()
        out = self.proc.last_out()
        return Outcome({"received": int(out["datagrams"])}, kernel_drops=int(out["drops"]))


class CopyRelay(Receiver):
    key, label = "copy", "copy relay"
    gso = 0  # 1: runs of one datagram size sent with UDP GSO, as the relay sends them

    def start(self) -> None:
        self.listener, group = _listener(self)
        self.proc = self.spawn(
            [tools.program("copyrelay"), "--rcvbuf", str(self.rcvbuf), "--file",
             str(self.tmp / "copy.bin"), "--mcast", group, "--mcast-if", "127.0.0.1",
             "--gso", str(self.gso)]
        )  # fmt: skip
        self.port = int(self.proc.wait_ready()["udp"].rsplit(":", 1)[1])
        self.pid = self.proc.pid
        self.group_port = int(group.rsplit(":", 1)[1])

    def ports(self) -> list[int]:
        return [self.port, self.group_port]

    def finish(self) -> Outcome:
        self.proc.stop()
        out = self.proc.last_out()
        per_dgram = 4 + self.load.size  # the copy relay's file: u32 length + datagram
        delivered = {
            "received": int(out["datagrams"]),
            "file": (self.tmp / "copy.bin").stat().st_size // per_dgram,
            "multicast": _count(self.listener),
        }
        return Outcome(delivered, kernel_drops=int(out["drops"]))


class CopyRelayGso(CopyRelay):
    key, label = "copy_gso", "copy relay with UDP GSO"
    gso = 1


class Socat(Receiver):
    """socat -u UDP-RECV:port OPEN:file: one read and one write per datagram."""

    key, label = "socat", "socat (defaults)"
    ask_rcvbuf = False

    def start(self) -> None:
        self.port = tools.free_udp_port()
        recv = f"UDP-RECV:{self.port},bind=127.0.0.1"
        if self.ask_rcvbuf:  # SO_RCVBUF: the kernel caps it at 2 x net.core.rmem_max
            recv += f",rcvbuf={self.rcvbuf}"
        self.file = self.tmp / "socat.bin"
        self.proc = self.spawn(["socat", "-u", recv, f"OPEN:{self.file},creat,trunc"])
        tools.wait_bound(self.port)
        self.pid = self.proc.pid

    def ports(self) -> list[int]:
        return [self.port]

    def finish(self) -> Outcome:
        self.proc.stop()
        size = self.file.stat().st_size if self.file.exists() else 0
        return Outcome({"file": size // self.load.size})


class SocatRcvbuf(Socat):
    key, label = "socat_rcvbuf", "socat (rcvbuf= relay's)"
    ask_rcvbuf = True


class Relay(Receiver):
    """The real zmq_relay with every output on: archive, full-rate and decimated multicast
    (one listener on the full-rate group), bus events (heard by a SUB socket). This one runs
    the default settings: decimate 1 (every record goes to the decimated group), downsample,
    records packed up to relay.dec_max_bytes."""

    key, label = "relay", "zmq_relay, decimate 1 (default)"
    decimate, algorithm, mcast_dec = 1, "downsample", True  # the decimated output's settings
    extra: tuple[str, ...] = ()  # more flags

    def start(self) -> None:
        if not tools.RELAY.exists():
            raise tools.BenchError(f"{tools.RELAY} not built")
        self.status = StatusListener()
        self.listener, group = _listener(self)
        self.group_port = int(group.rsplit(":", 1)[1])
        self.proc = self.spawn(self.argv(group))
        self.port = int(self.proc.wait_ready()["udp"].rsplit(":", 1)[1])
        self.pid = self.proc.pid

    def argv(self, group: str) -> list[str]:
        argv = [
            str(tools.RELAY), "--name", CHANNEL, "--port", "0", "--schema", str(tools.SCHEMA),
            "--data-dir", str(self.tmp / "data"), "--time-field", "time",
            "--mcast-full", group, "--mcast-if", "127.0.0.1", "--mcast-ttl", "0",
            "--decimate", str(self.decimate), "--algorithm", self.algorithm,
            "--bus", self.status.endpoint, "--rcvbuf", str(self.rcvbuf), "--die-with-parent",
        ]  # fmt: skip
        if self.mcast_dec:
            argv += ["--mcast-dec", tools.random_group()]
        return argv + list(self.extra)

    def ports(self) -> list[int]:
        return [self.port, self.group_port]

    def finish(self) -> Outcome:
        code = self.proc.stop()
        status = self.status.wait_final()
        self.status.close()
        delivered = {
            "archive": self._archived() // self.load.records,
            "multicast": _count(self.listener),
        }
        if code != 0:
            raise tools.BenchError(f"relay exited {code}:\n{self.proc.tail()}")
        if status is None:
            return Outcome(delivered)
        delivered["received"] = int(status["received"])
        return Outcome(delivered, kernel_drops=int(status["kernel_drops"]), status=status)

    def _archived(self) -> int:
        total = 0
        for path in archive_files(self.tmp / "data", CHANNEL):
            try:
                with open_archive(path) as f:
                    total += f.record_count
            except IncompleteHeader:
                continue
        return total


class RelayDecimate10(Relay):
    key, label = "relay_dec10", "zmq_relay, decimate 10 (mean)"
    decimate, algorithm = 10, "mean"


class RelayUnpacked(Relay):
    key, label = "relay_unpacked", "decimate 1, one record per decimated datagram"
    extra = ("--dec-max-bytes", "0")


class RelayNoDecimatedGroup(Relay):
    key, label = "relay_no_dec_group", "decimate 1, no decimated group"
    mcast_dec = False


ALL: tuple[type[Receiver], ...] = (
    Sink,
    CopyRelay,
    CopyRelayGso,
    SocatRcvbuf,
    Relay,
    RelayDecimate10,
)
"""Every case: the floor, the copy relay (the targets' baseline) and the same with UDP GSO,
socat with the relay's buffer, and the relay at decimate 1 and 10."""
RELAY_VARIANTS: tuple[type[Receiver], ...] = (
    Relay,
    RelayUnpacked,
    RelayNoDecimatedGroup,
    RelayDecimate10,
    CopyRelay,
)
"""Where the relay's CPU goes: its decimated output switched one way at a time (and the copy
relay)."""
