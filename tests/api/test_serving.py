"""`placements serve` as a real process: slow clients, errors answered before Flask, restarts."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SERVER_CLOCK, free_port, wait_serving

PLACEMENTS = str(Path(sys.executable).with_name("placements"))


def start_server(database_url: str, port: int, log: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PLACEMENTS_DATABASE_URL": database_url, "PLACEMENTS_CLOCK": SERVER_CLOCK}
    with log.open("ab") as out:
        return subprocess.Popen(
            [PLACEMENTS, "serve", "--port", str(port), "--workers", "2", "--threads", "4", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def serving_on(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    wait_serving(f"http://127.0.0.1:{port}", process, log)


def children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in found]


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[int]:
    """A server of 2 workers with 4 threads each (8 threads in all) and a 3 s read timeout."""
    port, log = free_port(), tmp_path / "serve.log"
    process = start_server(database_url, port, log, "--read-timeout", "3")
    try:
        serving_on(port, process, log)
        yield port
    finally:
        stop(process)


def exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes; the status, headers and body of the answer (read to the close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


class Trickler:
    """A client that opens a connection and sends its request one byte a second."""

    def __init__(self, port: int) -> None:
        self.connection = socket.create_connection(("127.0.0.1", port))
        self.request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"x" * 100
        self.stopped = threading.Event()
        threading.Thread(target=self.trickle, daemon=True).start()

    def trickle(self) -> None:
        with contextlib.suppress(OSError):
            for byte in self.request:
                self.connection.send(bytes([byte]))
                if self.stopped.wait(1):
                    return

    def answer(self) -> bytes:
        self.connection.settimeout(10)
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := self.connection.recv(65536):
                answer += chunk
        return answer

    def close(self) -> None:
        self.stopped.set()
        self.connection.close()


@pytest.mark.slow
def test_eight_trickling_clients_leave_other_clients_served(served: int) -> None:
    tricklers = [Trickler(served) for _ in range(8)]
    try:
        time.sleep(1.5)  # every trickler has sent its first bytes: each would hold a thread
        assert all(healthy(served) for _ in range(20))
        # The request that did not arrive within the read timeout gets a JSON 408.
        answer = tricklers[0].answer()
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert json.loads(answer.partition(b"\r\n\r\n")[2])["code"] == 408
    finally:
        for trickler in tricklers:
            trickler.close()


LONG_LINE = b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n"
BIG_FIELD = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"
MANY_FIELDS = (
    b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
    + b"".join(b"X-%d: a\r\n" % n for n in range(120))
    + b"\r\n"
)
BAD_VALUE = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Bad: a\x01b\r\n\r\n"
BAD_NAME = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-B\x00d: ab\r\n\r\n"
BAD_LINE = b"GET /healthz HTTP/1.1 extra\r\nHost: localhost\r\n\r\n"


@pytest.mark.parametrize(
    ("request_bytes", "status", "words"),
    [
        (LONG_LINE, 414, "request line is too long"),
        (BIG_FIELD, 431, "header fields are too large"),
        (MANY_FIELDS, 431, "header fields are too large"),
        (BAD_VALUE, 400, "InvalidHeader"),
        (BAD_NAME, 400, "InvalidHeaderName"),
        (BAD_LINE, 400, "malformed request"),
    ],
    ids=["long-line", "big-field", "many-fields", "bad-value", "bad-name", "bad-line"],
)
def test_errors_answered_before_flask_are_the_apis_json(
    served: int, request_bytes: bytes, status: int, words: str
) -> None:
    code, headers, body = exchange(served, request_bytes)
    assert code == status and headers["content-type"] == "application/json"
    error = json.loads(body)
    assert set(error) == {"code", "status", "message"} and error["code"] == status
    assert words in error["message"]
    assert healthy(served)


@pytest.mark.slow
@pytest.mark.parametrize("killed", ["master and workers", "master alone"])
def test_a_server_killed_with_kill_9_starts_again_at_once_on_its_port(
    database_url: str, tmp_path: Path, killed: str
) -> None:
    port, log = free_port(), tmp_path / "serve.log"
    first = start_server(database_url, port, log)
    again = None
    trickler = None
    try:
        serving_on(port, first, log)
        # Connections in every state: answered ones (TIME_WAIT) and one still being read.
        assert all(healthy(port) for _ in range(5))
        trickler = Trickler(port)
        time.sleep(1)
        workers = children(first.pid)
        assert len(workers) == 2
        for pid in [first.pid, *(workers if killed == "master and workers" else [])]:
            os.kill(pid, signal.SIGKILL)
        first.wait(timeout=10)
        again = start_server(database_url, port, log)
        # The new master listens (an orphaned worker, if any, gives the port up within a second).
        deadline = time.monotonic() + 30
        while log.read_text().count("Listening at") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        serving_on(port, again, log)
        assert all(healthy(port) for _ in range(5))
    finally:
        if trickler is not None:
            trickler.close()
        for process in (first, again):
            if process is not None:
                stop(process)
    # SO_REUSEADDR: the new master binds at its first try (no "Connection in use").
    assert "Connection in use" not in log.read_text() or killed == "master alone"
