"""Docker for the compose test, on a machine with no image registry and maybe no daemon:
the daemon that answers, else one of our own (Debian's dockerd: data-root, exec-root, pidfile and
socket under a temp dir; no bridge, no iptables: host networking only), a Debian base image made
with debootstrap (cached between runs under ~/.cache/speeddata), and the project's image built
on it. :class:`Unavailable` says in one line why Docker cannot run here."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from speeddata.config import ROOT

SUITE = "bookworm"
BASE_PACKAGES = (
    # what the Dockerfile would otherwise apt-get: python3 with venv, the relay's libraries,
    # and the relay's build tools (both stages build on this one base)
    "python3", "python3-venv", "libzmq5", "libjansson4",
    "gcc", "make", "libc6-dev", "pkg-config", "libzmq3-dev", "libjansson-dev",
)  # fmt: skip
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "speeddata"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
START_TIMEOUT_S = 60.0


class Unavailable(RuntimeError):
    """Docker cannot run here; the message says why in one line."""


def docker_cli() -> str:
    """Debian's client (matches its daemon; builds with the classic builder), else PATH's."""
    for candidate in ("/usr/bin/docker", shutil.which("docker")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise Unavailable("no docker client (make test installs Debian's docker.io)")


class Docker:
    """A daemon to talk to: ``host`` is its DOCKER_HOST."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.cli = docker_cli()

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SPEEDDATA", "DOCKER"))}
        env.update(DOCKER_HOST=self.host, DOCKER_BUILDKIT="0")
        return env

    def run(self, *args: str, timeout: float = 120, **kwargs: object) -> str:
        done = subprocess.run(
            [self.cli, *args], env=self.env, capture_output=True, text=True, timeout=timeout,
            **kwargs,  # type: ignore[call-overload]
        )  # fmt: skip
        if done.returncode:
            raise AssertionError(f"docker {' '.join(args)}: {done.stderr.strip()[-3000:]}")
        return str(done.stdout)

    def answers(self) -> bool:
        try:
            done = subprocess.run([self.cli, "info", "--format", "{{.ServerVersion}}"],
                                  env=self.env, capture_output=True, timeout=10)  # fmt: skip
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0


@contextmanager
def docker_daemon() -> Iterator[Docker]:
    """The daemon of DOCKER_HOST (or the default socket) when one answers, else our own,
    stopped by its pid afterwards."""
    default = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    running = Docker(default)
    if running.answers():
        yield running
        return
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise Unavailable("no Docker daemon answers and dockerd is not installed")
    if os.geteuid() != 0:
        raise Unavailable("no Docker daemon answers and starting one needs root")
    top = Path(tempfile.mkdtemp(prefix="sd-docker-", dir="/tmp"))  # short: socket paths
    log = open(top / "dockerd.log", "wb")  # noqa: SIM115
    tag = top.name
    proc = subprocess.Popen(
        [dockerd, "--data-root", str(top / "data"), "--exec-root", str(top / "exec"),
         "--pidfile", str(top / "dockerd.pid"), "-H", f"unix://{top}/docker.sock",
         "--bridge=none", "--iptables=false", "--ip6tables=false",
         "--containerd-namespace", tag, "--containerd-plugins-namespace", f"{tag}-plugins"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        ours = Docker(f"unix://{top}/docker.sock")
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ours.answers():
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (top / "dockerd.log").read_text(errors="replace").strip().splitlines()
                why = tail[-1] if tail else f"exit status {proc.poll()}"
                raise Unavailable(f"dockerd did not start: {why[-300:]}")
            time.sleep(0.3)
        yield ours
    finally:
        _stop(proc)
        log.close()
        _unmount_under(top)  # what dockerd left mounted (its netns file, overlays)
        shutil.rmtree(top, ignore_errors=True)


def _unmount_under(top: Path) -> None:
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for point in sorted((m for m in mounts if m.startswith(f"{top}/")), reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (deb822 or one-line sources)."""
    sources = sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))
    for path in sources:
        text = path.read_text(errors="replace")
        for stanza in text.split("\n\n"):
            if re.search(rf"^Suites:.*\b{SUITE}\b", stanza, re.M) and "security" not in stanza:
                found = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
                if found:
                    return found.group(1)
    listing = Path("/etc/apt/sources.list")
    if listing.exists():
        for line in listing.read_text(errors="replace").splitlines():
            parts = line.split()
            if parts[:1] == ["deb"] and SUITE in parts and "security" not in line:
                return next(p for p in parts[1:] if "://" in p)
    return DEFAULT_MIRROR


def base_image(docker: Docker) -> str:
    """A Debian base image for the Dockerfile's BASE: a debootstrap minbase of SUITE with
    BASE_PACKAGES, made once (minutes) and kept under CACHE, imported into ``docker``."""
    mirror = debian_mirror()
    key = hashlib.sha256(json.dumps([SUITE, mirror, BASE_PACKAGES]).encode()).hexdigest()[:12]
    name = f"speeddata-test-base:{key}"
    if docker.run("images", "-q", name).strip():
        return name
    root = CACHE / f"debootstrap-{SUITE}-{key}"
    if not (root / ".speeddata-complete").exists():
        _debootstrap(root, mirror)
    tar = subprocess.Popen(["tar", "-C", str(root), "--exclude", "./.speeddata-complete",
                            "-c", "."], stdout=subprocess.PIPE)  # fmt: skip
    docker.run("import", "-", name, stdin=tar.stdout, timeout=600)
    assert tar.wait() == 0, "tar of the debootstrap tree failed"
    return name


def _debootstrap(root: Path, mirror: str) -> None:
    if shutil.which("debootstrap") is None:
        raise Unavailable("debootstrap is not installed (make test installs it)")
    shutil.rmtree(root, ignore_errors=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", SUITE,
         str(root), mirror],
        capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    if done.returncode:
        raise AssertionError(f"debootstrap failed: {(done.stdout + done.stderr)[-3000:]}")
    for cached in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for f in (root / cached).glob("*"):
            if f.is_file():
                f.unlink()
    (root / ".speeddata-complete").touch()


def wheelhouse() -> None:
    """The project's wheelhouse/ (make wheelhouse: pip wheel of the dependencies, once per
    change of pyproject.toml), which the image build installs from with no index."""
    done = subprocess.run(["make", "-s", "wheelhouse"], cwd=ROOT, capture_output=True,
                          text=True, timeout=900)  # fmt: skip
    if done.returncode:
        raise AssertionError(f"make wheelhouse: {(done.stdout + done.stderr)[-3000:]}")


def build_image(docker: Docker, base: str, tag: str) -> None:
    docker.run("build", "--network", "host", "--build-arg", f"BASE={base}", "-t", tag, str(ROOT),
               timeout=1200)  # fmt: skip
