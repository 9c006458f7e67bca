"""What the benchmarks share: servers started as their own process groups, and the peers' venvs.

Each benchmark runs the project and its peer (standalone pygeoapi, tipg, titiler.application) as
separate uvicorn processes, logs each to a file, waits until it answers, and stops the whole group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx


class ServerProcess:
    """Start/wait/stop for a benchmark's server dataclass (fields ``name``, ``cmd``, ``env``,
    ``headers``, ``proc``, ``log``)."""

    name: str
    cmd: list[str]
    env: dict[str, str]
    headers: dict[str, str]
    proc: subprocess.Popen | None
    log: Path | None

    def launch(self, logs: Path, cwd: Path, log_name: str | None = None) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        self.log = logs / f"{log_name or self.name}.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=cwd, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def wait_for(self, url: str, timeout: float = 180) -> None:
        """Until ``url`` answers 200 (with the server's headers); exits the benchmark if it dies or hangs."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.log.read_text()[-3000:] if self.log else ""
                sys.exit(f"{self.name} exited ({self.proc.returncode}); see {self.log}:\n{log}")
            try:
                if httpx.get(url, headers=self.headers, timeout=30).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        sys.exit(f"{self.name} not ready after {timeout} s; see {self.log}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # the group this script started for it
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def peers_venv(path: Path, packages: list[str], probe: str) -> Path:
    """The ``bin`` folder of a venv apart from the project's with ``packages`` (made if ``probe``
    cannot be imported there)."""
    python = path / "bin" / "python"
    if not (path / "bin" / "uvicorn").exists() or subprocess.run(
            [python, "-c", f"import {probe}"], capture_output=True, check=False).returncode != 0:
        print(f"creating {path} with {', '.join(packages)} (separate from the project's venv)")
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *packages],
                       check=True)
    return path / "bin"
