"""Jinja filters of the pages: times in UK local time, hours, plain-English names of codes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment

UK = ZoneInfo("Europe/London")


def uk_time(moment: datetime | None, style: str = "full") -> str:
    """A time as people in England and Wales read it: '3 December 2026, 2:05pm'."""
    if moment is None:
        return ""
    local = moment.astimezone(UK)
    day = f"{local.day} {local:%B %Y}"
    if style == "date":
        return day
    hour = local.hour % 12 or 12
    return f"{day}, {hour}:{local:%M}{'am' if local.hour < 12 else 'pm'}"


def hours(value: float | None) -> str:
    """A number of hours, whole: '1 hour', '37 hours'."""
    if value is None:
        return ""
    whole = int(value)
    return f"{whole} hour" if whole == 1 else f"{whole} hours"


def plain(code: Any) -> str:
    """A code as words: 'cse_victim' -> 'cse victim', with known codes spelled out."""
    if code is None:
        return ""
    text = str(code)
    return WORDS.get(text, text.replace("_", " "))


WORDS = {
    "cse_victim": "victim of child sexual exploitation",
    "sexual_harm_risk": "risk of sexual harm to others",
    "welfare": "welfare (section 25)",
    "justice": "youth justice",
    "remand": "remanded by a court",
    "sentence": "sentenced by a court",
    "interim_order": "interim order",
    "full_order": "full order",
    "none": "no order yet",
}


def register(env: Environment) -> None:
    """Add the pages' filters to a Jinja environment."""
    env.filters["uk_time"] = uk_time
    env.filters["hours"] = hours
    env.filters["plain"] = plain
