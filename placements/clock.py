"""The service's one source of time: the system clock in production, fixed or running elsewhere.

Everything that needs "now" (the app, the command line, the scheduler, the simulation) is handed a
`Clock` and passes `clock.now()` down to the use cases, which take `now` as an argument. This module
is the only place that reads the system clock (docs/time.md).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from placements.errors import InvalidInput

SYSTEM_SPEC = "system"
# A clock set by hand must fall where the service's dates do (inputs are refused outside it too).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class Clock(Protocol):
    """Something that tells the time, always as an aware UTC datetime."""

    def now(self) -> datetime:
        """The current instant in UTC."""

    def describe(self) -> str:
        """What kind of clock this is, for logs and the health check."""


class SystemClock:
    """The machine's clock: what production uses."""

    def now(self) -> datetime:
        """The system time in UTC."""
        return datetime.now(UTC)

    def describe(self) -> str:
        """Always `system`."""
        return SYSTEM_SPEC


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a clock needs an aware datetime, not {moment!r}")
    return moment.astimezone(UTC)


class FixedClock:
    """A clock that shows one instant until it is set or advanced: tests and the simulation."""

    def __init__(self, at: datetime) -> None:
        self._at = _aware(at)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The instant the clock is set to."""
        with self._lock:
            return self._at

    def set(self, at: datetime) -> None:
        """Show another instant from now on."""
        with self._lock:
            self._at = _aware(at)

    def advance(self, by: timedelta) -> datetime:
        """Move the clock on (never back) and return the new instant."""
        if by < timedelta(0):
            raise ValueError("a clock is advanced forwards only")
        with self._lock:
            self._at += by
            return self._at

    def describe(self) -> str:
        """`fixed:` and the instant shown."""
        return f"fixed:{self.now().isoformat()}"


class RunningClock:
    """A clock that starts at a chosen instant and then runs at the machine's pace."""

    def __init__(self, start: datetime) -> None:
        self._start = _aware(start)
        self._origin = time.monotonic()

    def now(self) -> datetime:
        """The start instant plus the time elapsed since the clock was made."""
        return self._start + timedelta(seconds=time.monotonic() - self._origin)

    def describe(self) -> str:
        """`from:` and the instant it started at."""
        return f"from:{self._start.isoformat()}"


def clock_from_spec(spec: str | None) -> Clock:
    """The clock a setting names: `system` (default), `fixed:<ISO time>` or `from:<ISO time>`."""
    text = (spec or SYSTEM_SPEC).strip()
    if text == SYSTEM_SPEC:
        return SystemClock()
    kind, _, value = text.partition(":")
    if kind in ("fixed", "from") and value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None and EARLIEST <= moment < LATEST:
            return FixedClock(moment) if kind == "fixed" else RunningClock(moment)
    raise InvalidInput(
        f"{text!r} is not a clock",
        errors={"PLACEMENTS_CLOCK": ["system, fixed:<ISO time with offset> or from:<ISO time "
                                     "with offset>, between 2000 and 2100"]},
    )  # fmt: skip
