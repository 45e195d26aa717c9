"""What the figures were measured on."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _sysctl(name: str) -> str:
    try:
        return Path("/proc/sys", *name.split(".")).read_text().strip()
    except OSError:
        return "unknown"


def _virtualized() -> str:
    flags = Path("/proc/cpuinfo").read_text()
    return "virtual machine" if " hypervisor" in flags else "bare metal"


def describe() -> list[str]:
    """One line per fact: CPU, cores, memory, kernel, socket buffer limits."""
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return [
        f"CPU: {_cpu_model()}, nproc {os.cpu_count()} ({_virtualized()})",
        f"memory: {mem_kib / 2**20:.1f} GiB",
        f"kernel: {platform.system()} {platform.release()} {platform.machine()}",
        f"net.core.rmem_max: {_sysctl('net.core.rmem_max')}, "
        f"net.core.rmem_default: {_sysctl('net.core.rmem_default')}",
    ]


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages (other work on the machine adds noise)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
