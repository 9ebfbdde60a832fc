"""`python -m api.bench`: time the live options endpoint and accepts on the seeded estate."""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
from pathlib import Path

from api import create_app
from placements.auth import SYSTEM
from placements.migrations import upgrade
from placements.seeding import seed
from placements.tokens import TokenRequest, create

REQUEST = {
    "case_reference": "BENCH-1",
    "age": 15,
    "sex": "F",
    "legal_basis": "welfare",
    "grounds": ["harm_to_self"],
    "flags": ["cse_victim"],
}


def percentile(samples: list[float], share: float) -> float:
    """The sample below which `share` of the samples fall."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(rounds: int = 300) -> None:
    """Print p50/p95 of GET /requests/{id}/options and POST /requests over the test client."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        app = create_app({"PLACEMENTS_DATABASE_URL": url})
        logging.getLogger().setLevel(logging.WARNING)  # no JSON line per timed request
        sessions = app.extensions["placements"].sessions
        now = app.extensions["placements"].clock.now()
        seed(sessions, now=now)
        issued = create(
            sessions, SYSTEM, TokenRequest("director", authority_id="southwark"), now=now
        )
        headers = {"Authorization": f"Bearer {issued.token}"}
        client = app.test_client()
        created: list[float] = []
        for n in range(50):
            start = time.perf_counter()
            made = client.post("/requests", json={**REQUEST, "case_reference": f"B-{n}"},
                               headers=headers)  # fmt: skip
            created.append((time.perf_counter() - start) * 1000)
        request_id = made.get_json()["id"]
        options: list[float] = []
        for _ in range(rounds):
            start = time.perf_counter()
            response = client.get(f"/requests/{request_id}/options", headers=headers)
            options.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
        ranked = response.get_json()
        units = len(ranked["options"]) + len(ranked["excluded"])
        print(f"seeded estate: {units} units; SQLite; in-process test client")
        print(f"GET /requests/{{id}}/options  p50 {statistics.median(options):.1f} ms  "
              f"p95 {percentile(options, 0.95):.1f} ms  ({rounds} calls)")  # fmt: skip
        print(f"POST /requests               p50 {statistics.median(created):.1f} ms  "
              f"p95 {percentile(created, 0.95):.1f} ms  (50 calls)")  # fmt: skip
        app.extensions["placements"].sessions.engine.dispose()


if __name__ == "__main__":
    main()
