"""Serve the API with gunicorn from Python, building the app in each worker.

The worker is gunicorn's gthread worker with three changes (`HeadFirstWorker`):
- a request's head, and its body up to `BUFFER_LIMIT`, are read in the worker's event loop before
  the request goes to a thread, so a client that trickles its bytes holds a socket, not a thread;
  what has not arrived within the read timeout gets 408;
- errors gunicorn answers itself (414 request line too long, 431 header fields too large, 400
  malformed request, 408) carry the API's JSON error body (`code`, `status`, `message`);
- a worker whose master died (kill -9) closes its listening socket at once, so that a new server
  can bind the port while the old worker finishes the requests it holds.
"""

from __future__ import annotations

import collections
import json
import re
import time
from functools import partial
from http import HTTPStatus
from typing import Any

from flask import Flask
from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.http import errors as http_errors
from gunicorn.workers.gthread import ThreadWorker

from api import create_app

# Read per recv in the event loop; a request longer than the limit goes on in its thread.
CHUNK = 65536
BUFFER_LIMIT = 256 * 1024
HEAD_END = b"\r\n\r\n"
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length[ \t]*:[ \t]*(\d{1,12})[ \t]*(?=\r\n)", re.I)
DEFAULT_READ_TIMEOUT = 20.0


def error_response(status: int, message: str) -> bytes:
    """A complete HTTP/1.1 error response with the API's JSON error body; the connection closes."""
    phrase = HTTPStatus(status).phrase
    body = json.dumps({"code": status, "status": phrase, "message": message}).encode()
    head = (
        f"HTTP/1.1 {status} {phrase}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def answer_for(error: BaseException) -> tuple[int, str]:
    """The status and message for an error gunicorn meets before (or around) the app."""
    if isinstance(error, http_errors.LimitRequestLine):
        return 414, f"the request line is too long: {error}"
    if isinstance(error, http_errors.LimitRequestHeaders):
        return 431, f"the request's header fields are too large: {error}"
    if isinstance(error, http_errors.UnsupportedTransferCoding):
        return 501, f"unsupported transfer coding: {error}"
    if isinstance(error, http_errors.ExpectationFailed):
        return 417, f"expectation failed: {error}"
    if isinstance(error, http_errors.ForbiddenProxyRequest):
        return 403, "proxy requests are not accepted from this address"
    if isinstance(error, http_errors.ConfigurationProblem | http_errors.InvalidResponseHeader
                  | http_errors.InvalidResponseHeaderName):  # fmt: skip
        return 500, "the server failed to answer this request"
    if isinstance(error, http_errors.ParseException):
        return 400, f"malformed request: {type(error).__name__}: {error}"
    return 500, "the server failed to answer this request"


def request_complete(data: bytes) -> bool:
    """Whether `data` holds a whole request head and the body its Content-Length announces."""
    end = data.find(HEAD_END)
    if end < 0:
        return False
    length = CONTENT_LENGTH.search(data, 0, end + 2)
    return length is None or len(data) - (end + 4) >= int(length.group(1))


class HeadFirstWorker(ThreadWorker):  # type: ignore[misc]
    """gthread, reading each request's head (and a small body) in the event loop first."""

    read_timeout = DEFAULT_READ_TIMEOUT

    def init_process(self) -> None:
        """Set up the queue of connections being read, then run gunicorn's set-up."""
        self.reading: collections.deque[Any] = collections.deque()
        super().init_process()

    def enqueue_req(self, conn: Any) -> None:
        """Hand a connection to a thread once its request has arrived; read it meanwhile."""
        if self.cfg.is_ssl or getattr(conn, "ready", False):
            conn.ready = False
            super().enqueue_req(conn)
            return
        conn.received = conn.parser.unreader.take_buffered() if conn.parser else b""
        conn.read_deadline = time.monotonic() + self.read_timeout
        if request_complete(conn.received):
            self._dispatch(conn)
            return
        conn.sock.setblocking(False)
        self.poller.register(conn.sock, 1, partial(self._read, conn))  # 1: EVENT_READ
        self.reading.append(conn)

    def _read(self, conn: Any, _sock: Any) -> None:
        try:
            data = conn.sock.recv(CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._forget(conn)
            self._close(conn)
            return
        conn.received += data
        if request_complete(conn.received) or len(conn.received) >= BUFFER_LIMIT:
            self._forget(conn)
            self._dispatch(conn)

    def _dispatch(self, conn: Any) -> None:
        conn.ready = True
        self.enqueue_req(conn)

    def _forget(self, conn: Any) -> None:
        self.poller.unregister(conn.sock)
        self.reading.remove(conn)

    def _close(self, conn: Any) -> None:
        self.nr_conns -= 1
        conn.close()

    def handle(self, conn: Any) -> Any:
        """Give the parser what the event loop read, then let gthread serve the request."""
        received = getattr(conn, "received", b"")
        if received:
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(received)
            conn.received, conn.data_ready = b"", True
        return super().handle(conn)

    def murder_pending(self) -> None:
        """Also end connections whose request did not arrive in time (408 if it had begun)."""
        super().murder_pending()
        now = time.monotonic()
        while self.reading and (self.reading[0].read_deadline <= now or not self.alive):
            conn = self.reading[0]
            if conn.received and conn.read_deadline > now:
                break  # stopping: a request already begun still has its time
            self._forget(conn)
            if conn.received:
                message = f"the request did not arrive within {self.read_timeout:g} s"
                util.write_nonblock(conn.sock, error_response(408, message))
            self._close(conn)

    def is_parent_alive(self) -> bool:
        """False once the master is gone; then the port is given up at once."""
        if super().is_parent_alive():
            return True
        self.set_accept_enabled(False)
        for listener in self.sockets:
            listener.close()
        return False

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """Answer an error gunicorn meets with the API's JSON error body."""
        status, message = answer_for(exc)
        if status >= 500:
            self.log.exception("Error handling request %s", getattr(req, "uri", "(no URI read)"))
        else:
            self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        try:
            util.write_nonblock(client, error_response(status, message))
        except Exception:
            self.log.debug("Failed to send error message.")


class PlacementsServer(BaseApplication):  # type: ignore[misc]
    """A gunicorn application whose workers each build their own app."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """Apply the options given on the command line."""
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        """Build the app (in the worker, after the fork)."""
        return create_app()


def serve(*, host: str, port: int, workers: int, threads: int,
          read_timeout: float = DEFAULT_READ_TIMEOUT) -> None:  # fmt: skip
    """Run gunicorn until it is stopped."""
    worker = type("HeadFirstWorker", (HeadFirstWorker,), {"read_timeout": read_timeout})
    PlacementsServer(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": worker,
            "threads": threads,
            "accesslog": None,
            "graceful_timeout": 10,
            "timeout": 60,
            # One control socket per user ($HOME/.gunicorn/gunicorn.ctl) would be fought over
            # by every server on the machine; nothing here uses it.
            "control_socket_disable": True,
        }
    ).run()
