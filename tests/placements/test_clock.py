"""The service's one clock and its id source: fixed, running and system clocks; seeded ids."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from placements import ids
from placements.clock import FixedClock, RunningClock, SystemClock, clock_from_spec
from placements.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]
T = datetime(2030, 5, 6, 7, 8, tzinfo=UTC)


def test_a_fixed_clock_shows_its_instant_until_set_or_advanced() -> None:
    clock = FixedClock(T)
    assert clock.now() == T and clock.now() == T
    assert clock.advance(timedelta(hours=73)) == T + timedelta(hours=73) == clock.now()
    clock.set(T - timedelta(days=1))
    assert clock.now() == T - timedelta(days=1)
    with pytest.raises(ValueError):
        clock.advance(timedelta(seconds=-1))
    with pytest.raises(ValueError):
        FixedClock(datetime(2030, 1, 1))  # naive: which zone?


def test_a_fixed_clock_given_another_zone_answers_in_utc() -> None:
    clock = FixedClock(datetime(2030, 1, 1, 12, tzinfo=timezone(timedelta(hours=2))))
    assert clock.now() == datetime(2030, 1, 1, 10, tzinfo=UTC) and clock.now().tzinfo == UTC


def test_a_running_clock_starts_where_it_is_told_and_runs_on() -> None:
    clock = RunningClock(T)
    first = clock.now()
    time.sleep(0.05)
    second = clock.now()
    assert T <= first < second < T + timedelta(seconds=5)


def test_clock_settings_name_a_clock_or_are_refused() -> None:
    assert isinstance(clock_from_spec(None), SystemClock)
    assert isinstance(clock_from_spec("system"), SystemClock)
    assert clock_from_spec(f"fixed:{T.isoformat()}").now() == T
    assert clock_from_spec(f"from:{T.isoformat()}").now() >= T
    bad_specs = ("fixed:", "fixed:2030-01-01T00:00:00", "from:tomorrow", "soon", "fixed:2030-13-01",
                 "fixed:9999-12-31T23:59:59+00:00", "from:0001-01-01T00:00:00+00:00")  # fmt: skip
    for bad in bad_specs:
        with pytest.raises(InvalidInput):
            clock_from_spec(bad)


def test_the_system_clock_is_read_in_one_place_only() -> None:
    readers = re.compile(r"datetime\.now\(|datetime\.utcnow\(|date\.today\(|time\.time\(")
    found = [
        str(path.relative_to(ROOT))
        for folder in ("api", "placements", "solver", "seed")
        for path in (ROOT / folder).rglob("*.py")
        if readers.search(path.read_text())
    ]
    assert found == ["placements/clock.py"]


def test_seeded_ids_repeat_for_the_same_seed_and_production_ids_do_not() -> None:
    def draw(source: ids.IdSource) -> list[str]:
        with ids.using(source):
            return [ids.new_id("REQ") for _ in range(5)] + [ids.new_hex(12)]

    first, second = draw(ids.SeededIds(7)), draw(ids.SeededIds(7))
    assert first == second and len(set(first)) == 6
    assert draw(ids.SeededIds(8)) != first
    assert draw(ids.RandomIds()) != draw(ids.RandomIds())
    assert re.fullmatch(r"REQ-[0-9A-F]{8}", first[0]) and re.fullmatch(r"[0-9a-f]{24}", first[-1])


def test_outside_a_seeded_block_ids_are_random_again() -> None:
    with ids.using(ids.SeededIds(1)):
        inside = ids.new_id("OFF")
    with ids.using(ids.SeededIds(1)):
        assert ids.new_id("OFF") == inside
        with ids.using(ids.RandomIds()):
            assert ids.new_id("OFF") != inside
    assert ids.new_id("OFF") != inside
