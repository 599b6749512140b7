"""Start a sandbox as a subprocess and talk to its ``/_sandbox`` endpoints.

Used by the tests, the benchmarks and ``make demo`` so all of them start the sandboxes the way a
user does (the console scripts of SPEC §3) and wait for the ``ready <base url>`` line.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


def console_script(name: str) -> str:
    """Prefer the console script next to the running interpreter (the project's .venv)."""
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        msg = f"{name} is not installed; run `make setup`"
        raise FileNotFoundError(msg)
    return found


@dataclass
class SandboxProcess:
    """A running sandbox: its base URL, its process and its stats endpoints."""

    base_url: str
    process: subprocess.Popen
    args: list[str] = field(default_factory=list)
    cafile: str | None = None  # the sandbox's own certificate when it serves HTTPS

    def _open(self, request: str | urllib.request.Request):
        context = ssl.create_default_context(cafile=self.cafile) if self.cafile else None
        return urllib.request.urlopen(request, timeout=10, context=context)  # noqa: S310

    def stats(self) -> dict:
        with self._open(f"{self.base_url}/_sandbox/stats") as resp:
            return json.loads(resp.read())

    def reset(self) -> None:
        req = urllib.request.Request(  # noqa: S310 - our own http(s) base URL
            f"{self.base_url}/_sandbox/reset", method="POST", data=b""
        )
        with self._open(req):
            pass

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_sandbox(
    command: str, args: Sequence[str] = (), *, host: str = "127.0.0.1", timeout: float = 60.0
) -> SandboxProcess:
    """Start ``command`` (``sell-sandbox``, ``ews-sandbox``, ``exchange-sandbox``) on a free port
    and wait for ready; ``cafile`` is the CA of ``--tls`` or the ``--tls-cert`` given."""
    argv = [console_script(command), "--host", host, "--port", "0", *args]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=None, bufsize=0, env={**os.environ}
    )
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    cafile = args[list(args).index("--tls-cert") + 1] if "--tls-cert" in args else None
    pending = b""  # raw reads: a buffered reader could hide the ready line from select()
    while True:
        while b"\n" in pending:
            raw, pending = pending.split(b"\n", 1)
            line = raw.decode()
            if line.startswith("ca "):  # --tls: the sandbox's own CA, printed before ready
                cafile = line[3:].strip()
            elif line.startswith("ready "):
                return SandboxProcess(
                    base_url=line.split()[1].rstrip("/"), process=proc, args=argv, cafile=cafile
                )
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not selector.select(remaining):
            proc.kill()
            msg = f"{command} did not print 'ready' within {timeout:.0f}s"
            raise TimeoutError(msg)
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            msg = f"{command} exited with {proc.wait()} before it was ready"
            raise RuntimeError(msg)
        pending += chunk


@contextmanager
def running_sandbox(
    command: str, args: Sequence[str] = (), **kwargs: object
) -> Iterator[SandboxProcess]:
    sandbox = start_sandbox(command, args, **kwargs)  # type: ignore[arg-type]
    try:
        yield sandbox
    finally:
        sandbox.stop()
