"""schemathesis against the real server, every check and stateful links: no failure of any kind.

Runs `schemathesis run --checks all` (all phases: examples, coverage, fuzzing, stateful) against
`placements serve` on the seeded test database, once per role, on SQLite and on PostgreSQL when
configured. `make test` draws PLACEMENTS_FUZZ_EXAMPLES=5 examples per operation; `make fuzz` 100.
How the checks judge the service is in schemathesis.toml and tests/api/fuzz_checks.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from placements.db import Sessions

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ROLES = {
    "admin": {},
    "director": {"authority_id": "southwark"},
    "provider": {"provider_id": "clare-lodge"},
    "panel": {"panel_id": "review-southwark", "label": "chair.southwark@example.org#fuzz"},
}
EXAMPLES = int(os.environ.get("PLACEMENTS_FUZZ_EXAMPLES", "5"))
SEED = os.environ.get("PLACEMENTS_FUZZ_SEED", "20261121")


@pytest.mark.parametrize("role", ROLES)
def test_schemathesis_finds_no_failure(
    role: str,
    server: str,
    seeded: Sessions,
    token: Callable[..., str],
    tmp_path: Path,
) -> None:
    secret = token(role, **ROLES[role])
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--no-color",
        "--config-file",
        str(ROOT / "schemathesis.toml"),
        "run",
        f"{server}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        SEED,
        "--generation-database",
        "none",
        "--header",
        f"Authorization: Bearer {secret}",
    ]
    # The hooks module (tests.api.fuzz_checks) is imported from the checkout; caches go to tmp.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    report = run.stdout + run.stderr
    assert run.returncode == 0, f"{role}: schemathesis failed\n{report[-20000:]}"
