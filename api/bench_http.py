"""`python -m api.bench_http` (`make bench-http`): the real server against a minimal app, over HTTP.

For SQLite and then PostgreSQL, it seeds a database, starts `placements serve` with its defaults
and a minimal Flask app (`minimal_app`: the same token lookup and unit read, nothing else) served
the same way (gunicorn, gthread, the same workers and threads), and drives both with the same
concurrent clients (separate processes, keep-alive `http.client`), interleaved round by round.
It prints `GET /units/{id}` throughput and latency of both, then `GET /requests/{id}/options` as a
director, each with the CPU its server used per call (user and system time of the server's
processes, read from /proc on Linux): on a machine shared with other work, latency and throughput
move with the load, CPU per call much less. A benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy import text
from sqlalchemy.engine import make_url

from placements import requests
from placements.auth import SYSTEM, Actor
from placements.clock import SystemClock
from placements.config import Settings
from placements.db import Sessions, make_engine
from placements.migrations import upgrade
from placements.seeding import seed
from placements.tokens import TokenRequest, create

UNIT = "clare-lodge/nene"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/placements_bench"
UNIT_SQL = text(
    "SELECT u.id, u.provider_id, p.name AS provider_name, u.name, u.approved_beds, u.designation,"
    " u.sexes, u.min_age, u.max_age, u.specialisms, u.staffed_beds, u.occupied_beds,"
    " u.reserved_beds, u.out_of_use_reason, u.resident_flags, u.updated_at, u.updated_by,"
    " u.version FROM unit u JOIN provider p ON p.id = u.provider_id WHERE u.id = :id"
)
TOKEN_SQL = text("SELECT role, revoked_at FROM api_token WHERE token_hash = :hash")


def minimal_app() -> Flask:
    """The least an app can do for GET /units/{id}: look the token up, read the unit, answer."""
    app = Flask("minimal")
    engine = make_engine(os.environ["PLACEMENTS_DATABASE_URL"])

    @app.get("/units/<provider_id>/<slug>")
    def unit(provider_id: str, slug: str) -> Any:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        digest = hashlib.sha256(token.encode()).hexdigest()
        with engine.connect() as connection:
            caller = connection.execute(TOKEN_SQL, {"hash": digest}).first()
            if caller is None or caller.revoked_at is not None:
                return jsonify(message="unauthorized"), 401
            row = connection.execute(UNIT_SQL, {"id": f"{provider_id}/{slug}"}).mappings().first()
        if row is None:
            return jsonify(message="not found"), 404
        body = {
            **row,
            "free_beds": row["staffed_beds"] - row["occupied_beds"] - row["reserved_beds"],
        }
        return jsonify(body), 200, {"ETag": f'"{row["version"]}"'}

    @app.get("/healthz")
    def health() -> Response:
        return jsonify(status="ok")

    return app


@dataclass(frozen=True)
class Estate:
    """A seeded database and what the clients need: its URL, a director's token, a request."""

    url: str
    director: str
    request_id: str


def prepare(url: str) -> Estate:
    """Migrate and seed the database; issue a director's token and open a request for it."""
    if url.startswith("postgresql"):
        create_database(url)
    upgrade(url)
    engine = make_engine(url)
    sessions = Sessions.for_engine(engine)
    now = SystemClock().now()
    seed(sessions, now=now)
    scope = TokenRequest("director", authority_id="southwark", label=f"bench-{uuid.uuid4().hex}")
    token = create(sessions, SYSTEM, scope, now=now).token
    facts = requests.RequestFacts(
        case_reference=f"BENCH-{uuid.uuid4().hex[:12]}", age=15, sex="F", legal_basis="welfare",
        grounds=("harm_to_self",), flags=("cse_victim",),
    )  # fmt: skip
    director = Actor("bench", "director", authority_id="southwark")
    made = requests.create(sessions, director, facts, now=now)
    engine.dispose()
    return Estate(url, token, made.id)


def create_database(url: str) -> None:
    """Create the PostgreSQL database of the URL unless it exists."""
    target = make_url(url)
    engine = make_engine(target.set(database="postgres").render_as_string(hide_password=False))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        found = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
        ).first()
        if found is None:
            connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    engine.dispose()


def serve_defaults() -> tuple[int, int]:
    """The workers and threads `placements serve` uses by default."""
    from api.cli import serve

    defaults: dict[str | None, Any] = {p.name: p.default for p in serve.params}
    return int(defaults["workers"]), int(defaults["threads"])


def free_port() -> int:
    """A TCP port nobody listens on."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Server:
    """A running server: its base URL and its (master) process id."""

    base: str
    pid: int


def cpu_seconds(root: int) -> float:
    """User and system CPU seconds used so far by a process and its live descendants (Linux
    /proc; 0 where there is none)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        stats[int(entry.parent.name)] = (int(fields[1]), ticks / os.sysconf("SC_CLK_TCK"))
    tree = {root}
    while grown := {pid for pid, (parent, _) in stats.items() if parent in tree} - tree:
        tree |= grown
    return sum(stats[pid][1] for pid in tree if pid in stats)


@contextmanager
def running(command: list[str], url: str, port: int, log: Path) -> Iterator[Server]:
    """Run a server on the database until the block ends."""
    env = {**os.environ, "PLACEMENTS_DATABASE_URL": url}
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    failed = f"{command[0]} did not start: {log.read_text()[-2000:]}"
                    raise RuntimeError(failed) from None
                time.sleep(0.2)
        yield Server(base, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def client(base: str, path: str, token: str, seconds: float) -> list[float]:
    """One client: GET the path again and again for `seconds`; each call's milliseconds."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"Authorization": f"Bearer {token}"}
    samples: list[float] = []
    end = time.perf_counter() + seconds
    while (start := time.perf_counter()) < end:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status}")
        samples.append((time.perf_counter() - start) * 1000)
    connection.close()
    return samples


@dataclass
class Tally:
    """The calls made against one server: latencies and the seconds they took in all."""

    samples: list[float]
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def rate(self) -> float:
        """Calls per second."""
        return len(self.samples) / self.seconds if self.seconds else 0.0

    def cpu_per_call(self) -> float:
        """The server's CPU milliseconds per call."""
        return self.cpu_seconds * 1000 / len(self.samples) if self.samples else 0.0

    def line(self) -> str:
        """Throughput, p50/p95/p99 and the server's CPU per call as one line."""
        p50, p95, p99 = (percentile(self.samples, share) for share in (0.50, 0.95, 0.99))
        cpu = self.cpu_per_call()
        return (f"{self.rate():7.1f} req/s  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  "
                f"p99 {p99:6.1f} ms  server CPU {cpu:4.2f} ms/call  "
                f"({len(self.samples)} calls)")  # fmt: skip


def percentile(samples: list[float], share: float) -> float:
    """The sample below which `share` of the samples fall."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def drive(pool: ProcessPoolExecutor, clients: int, server: Server, path: str, token: str,
          seconds: float, tally: Tally) -> None:  # fmt: skip
    """One round: `clients` clients at once against one server."""
    started, cpu = time.perf_counter(), cpu_seconds(server.pid)
    futures = [pool.submit(client, server.base, path, token, seconds) for _ in range(clients)]
    for future in futures:
        tally.samples += future.result()
    tally.seconds += time.perf_counter() - started
    tally.cpu_seconds += cpu_seconds(server.pid) - cpu


def bench(url: str, *, clients: int, rounds: int, seconds: float, label: str,
          serving: tuple[int, int] | None) -> None:  # fmt: skip
    """Seed `url`, serve it both ways, and print the figures."""
    estate = prepare(url)
    workers, threads = serving or serve_defaults()
    real_port, minimal_port = free_port(), free_port()
    real = [str(Path(sys.executable).with_name("placements")), "serve", "--port", str(real_port)]
    if serving:
        real += ["--workers", str(workers), "--threads", str(threads)]
    minimal = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{minimal_port}",
               "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
               "api.bench_http:minimal_app()"]  # fmt: skip
    unit_path = f"/units/{UNIT}"
    with ExitStack() as stack, tempfile.TemporaryDirectory() as logs:
        real_server = stack.enter_context(running(real, url, real_port, Path(logs) / "real.log"))
        minimal_server = stack.enter_context(
            running(minimal, url, minimal_port, Path(logs) / "minimal.log")
        )
        pool = stack.enter_context(ProcessPoolExecutor(clients))
        for server in (real_server, minimal_server):  # warm up: connections, imports, caches
            drive(pool, clients, server, unit_path, estate.director, 1.0, Tally([]))
        tallies = {"placements serve": Tally([]), "minimal app": Tally([])}
        for n in range(rounds):
            order = [(real_server, "placements serve"), (minimal_server, "minimal app")]
            for server, name in order if n % 2 == 0 else reversed(order):
                drive(pool, clients, server, unit_path, estate.director, seconds, tallies[name])
        options = Tally([])
        options_path = f"/requests/{estate.request_id}/options"
        drive(pool, clients, real_server, options_path, estate.director, 1.0, Tally([]))
        drive(pool, clients, real_server, options_path, estate.director, seconds * rounds, options)
    ratio = tallies["placements serve"].rate() / tallies["minimal app"].rate()
    print(f"\n{label}: {workers} workers x {threads} threads (gthread), {clients} clients, "
          f"{rounds} interleaved rounds of {seconds:g} s")  # fmt: skip
    for name, tally in tallies.items():
        print(f"  GET /units/{{id}}               {name:<17} {tally.line()}")
    print(f"  GET /units/{{id}} throughput ratio (placements / minimal): {ratio:.2f}x")
    cpu = tallies["minimal app"].cpu_per_call() / (tallies["placements serve"].cpu_per_call() or 1)
    print(f"  GET /units/{{id}} CPU per call ratio (minimal / placements): {cpu:.2f}x")
    print(f"  GET /requests/{{id}}/options     placements serve  {options.line()}")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark on SQLite and PostgreSQL and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m api.bench_http", description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one round")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--workers", type=int, help="both servers' (default: serve's default)")
    parser.add_argument("--threads", type=int, help="both servers' (default: serve's default)")
    options = parser.parse_args(argv)
    defaults = serve_defaults()
    serving = (options.workers or defaults[0], options.threads or defaults[1])
    run: dict[str, Any] = {"clients": options.clients, "rounds": options.rounds,
                           "seconds": options.seconds,
                           "serving": None if serving == defaults else serving}  # fmt: skip
    print(f"{os.cpu_count()} CPUs; defaults of `placements serve`: {serve_defaults()}; "
          f"busy timeout {Settings().sqlite_busy_timeout_s:g} s")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        bench(f"sqlite:///{Path(folder) / 'bench.db'}", label="SQLite", **run)
    if not options.skip_postgres:
        url = os.environ.get("PLACEMENTS_BENCH_DATABASE_URL") or DEFAULT_PG_URL
        bench(url, label=f"PostgreSQL ({make_url(url).database})", **run)


if __name__ == "__main__":
    main()
