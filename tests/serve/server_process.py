"""Start `cnnbuild serve` as a real process on a free localhost port, and stop it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``cnnbuild serve MODEL OPTIONS`` on a free port; ``without_tensorflow``: in a process that cannot
    import TensorFlow; ``open_files``: under that descriptor limit (``ulimit -n``). ``ready_s``: start to /health."""

    def __init__(self, model: Path, log: Path, *options: str, timeout: float = 240, without_tensorflow: bool = False, open_files: int | None = None) -> None:
        from ..export.no_tensorflow import command

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        args = ["serve", str(model), "--port", str(self.port), *options]
        line = command(*args) if without_tensorflow else [sys.executable, "-m", "cnnbuild", *args]

        def limited() -> None:
            import resource

            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

        started = time.time()
        with log.open("w") as handle:
            self.process = subprocess.Popen(line, stdout=handle, stderr=subprocess.STDOUT, env=env, preexec_fn=limited if open_files else None)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"cnnbuild serve exited with {self.process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    self.ready_s = time.time() - started
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"cnnbuild serve did not answer /health within {timeout} s:\n{log.read_text()[-3000:]}")

    def rss_kib(self, field: str = "VmRSS") -> int:
        """The server's resident memory now (``VmHWM``: its peak so far), in KiB (Linux)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
