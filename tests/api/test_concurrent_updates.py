"""Twenty providers' clients racing on one ETag against `placements serve --workers 2`."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest

from placements.db import Sessions

UNIT = "clare-lodge/nene"


def call(
    method: str, url: str, token: str, body: object = None, headers: dict[str, str] | None = None
):
    """One HTTP call; returns (status, headers, JSON body)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


@pytest.mark.slow
def test_twenty_updates_with_one_etag_let_exactly_one_win(
    server: str, seeded: Sessions, token: Callable[..., str]
) -> None:
    secret = token("provider", provider_id="clare-lodge")
    _, headers, before = call("GET", f"{server}/units/{UNIT}", secret)
    etag = headers["ETag"]
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def client(n: int) -> None:
        body = {"staffed_beds": 8, "occupied_beds": n % 4, "resident_flags": {}}
        barrier.wait()
        status, _, _ = call(
            "PUT", f"{server}/units/{UNIT}/availability", secret, body, {"If-Match": etag}
        )
        statuses.append(status)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [412] * 19
    _, _, after = call("GET", f"{server}/units/{UNIT}", secret)
    assert after["version"] == before["version"] + 1
