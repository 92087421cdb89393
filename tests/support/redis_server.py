"""A Redis server of the tests' own (the system's `redis-server`), which a fault test may stop
and start again empty, as a Redis without persistence does when it restarts."""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.support.availability import missing
from tests.support.processes import start
from tests.support.servers import free_port, wait_until


class RedisServer:
    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """An empty Redis on the same port: nothing saved, nothing loaded."""
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = start([*args, "--dir", str(self.folder)], {}, self.folder / "redis.log")
        client = redis.Redis(port=self.port)
        wait_until(lambda: self._answers(client), timeout=10)
        client.close()

    @staticmethod
    def _answers(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    def freeze(self) -> None:
        """Hung, not gone: connections stay open and nothing answers (SIGSTOP)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Gone at once, as a crashed Redis is (SIGKILL: nothing is written)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@contextmanager
def redis_server(folder: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        missing("redis-server")
    server = RedisServer(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()
