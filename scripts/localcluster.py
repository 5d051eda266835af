"""Drive the local cluster of ``start-server.sh --cluster`` from Python (tests, benchmarks).

The cluster is started by the script itself, so what is exercised is what a
user runs; this module only reads the script's record of ports and pid files
(``STATE/cluster/ports``) to stop, kill and restart single servers by PID.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "start-server.sh"


class ClusterUnavailable(RuntimeError):
    """The script could not bring the cluster up on this machine."""


class LocalCluster:
    """Three RabbitMQ nodes, two Redis servers and three Sentinels on free ports.

    Args:
        prefix: start of the RabbitMQ node names (unique per run).
        state_dir: where the script keeps data and records; a fresh folder by default.
    """

    def __init__(self, prefix: str, state_dir: Path | None = None) -> None:
        if state_dir is None:
            state_dir = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
            # Debian's RabbitMQ runs as its own user, which must reach the node folders.
            state_dir.chmod(0o755)
        self.state_dir = state_dir
        self.prefix = prefix
        self.amqp_urls: list[str] = []
        self.redis_url = ""
        self.output = ""

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DISTCHAT_STATE_DIR": str(self.state_dir),
            "DISTCHAT_CLUSTER_NODE_PREFIX": self.prefix,
        }

    # -- the script ------------------------------------------------------------

    def start(self, timeout: float = 300) -> str:
        """Run ``start-server.sh --cluster``; returns its output.

        Raises:
            ClusterUnavailable: the script failed (its output says why).
        """
        try:
            done = subprocess.run(
                ["bash", str(SCRIPT), "--cluster"],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise ClusterUnavailable(f"start-server.sh --cluster took over {timeout} s") from exc
        self.output = done.stdout + done.stderr
        if done.returncode != 0:
            raise ClusterUnavailable(self.output.strip())
        amqp = re.search(r"^  --amqp-url (\S+)$", done.stdout, re.M)
        redis_url = re.search(r"^  --redis-url (\S+)$", done.stdout, re.M)
        if amqp is None or redis_url is None:
            raise ClusterUnavailable(f"no client URLs in the output:\n{self.output}")
        self.amqp_urls = amqp.group(1).split(",")
        self.redis_url = redis_url.group(1)
        return self.output

    def stop(self) -> None:
        """Stop everything the script started here, then anything left, by PID."""
        pids = self._all_pids()
        subprocess.run(
            ["bash", str(SCRIPT), "stop", "--cluster"],
            env=self.env,
            capture_output=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        for pid in pids:
            _kill(pid, signal.SIGKILL)

    def status(self) -> str:
        done = subprocess.run(
            ["bash", str(SCRIPT), "status", "--cluster"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        return done.stdout + done.stderr

    # -- records -----------------------------------------------------------------

    def record(self) -> dict[str, str]:
        text = (self.state_dir / "cluster" / "ports").read_text()
        return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)

    def node_name(self, i: int) -> str:
        return self.record()[f"node{i}"]

    def node_pid(self, i: int) -> int | None:
        mnesia = self.state_dir / "cluster" / f"rabbit{i}" / "mnesia"
        return _read_pid(mnesia / f"{self.node_name(i)}.pid")

    def redis_pid(self, i: int) -> int | None:
        return _read_pid(self.state_dir / "cluster" / f"redis{i}" / "redis.pid")

    def redis_port(self, i: int) -> int:
        return int(self.record()[f"redis{i}"])

    def sentinel_ports(self) -> list[int]:
        record = self.record()
        return [int(record[f"sentinel{i}"]) for i in (1, 2, 3)]

    def _all_pids(self) -> list[int]:
        base = self.state_dir / "cluster"
        if not (base / "ports").exists():
            return []
        files = [base / f"sentinel{i}" / "sentinel.pid" for i in (1, 2, 3)]
        files += [base / f"redis{i}" / "redis.pid" for i in (1, 2)]
        pids = [_read_pid(f) for f in files] + [self.node_pid(i) for i in (1, 2, 3)]
        return [pid for pid in pids if pid is not None]

    # -- failures ------------------------------------------------------------------

    def kill_node(self, i: int) -> float:
        """Kill RabbitMQ node ``i`` outright; returns the monotonic time of the kill."""
        return _kill_now(self.node_pid(i), f"RabbitMQ node {i}")

    def kill_redis(self, i: int) -> float:
        """Kill Redis server ``i`` outright; returns the monotonic time of the kill."""
        return _kill_now(self.redis_pid(i), f"Redis {i}")


def _kill_now(pid: int | None, what: str) -> float:
    """SIGKILL ``pid`` (``what`` names it if not running); the monotonic time of the kill."""
    if pid is None:
        raise RuntimeError(f"{what} is not running")
    killed = time.monotonic()
    _kill(pid, signal.SIGKILL)
    return killed


def _read_pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except OSError:
        return None
    return pid


def _kill(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except OSError:
        pass
