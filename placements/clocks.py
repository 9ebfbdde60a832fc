"""Statutory clocks: order lengths, the 72-hour rule, review due dates, staleness."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

import holidays

WITHOUT_ORDER_LIMIT_HOURS = 72.0
WITHOUT_ORDER_WARNING_HOURS = 48.0
WINDOW = timedelta(days=28)
STALE_REQUEST = timedelta(days=14)
REMAND_LIMIT = timedelta(days=28)
FIRST_ORDER_MONTHS = 3
RENEWAL_MONTHS = 6
REVIEW_INTERVAL_MONTHS = 3
WALES_FIRST_REVIEW_WORKING_DAYS = 15


def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` later, or the month's last day when it has no such day."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def order_limit(kind: str, granted_at: datetime, *, renewal: bool) -> datetime | None:
    """The latest expiry the law allows for an order granted at `granted_at` (None: no order)."""
    if kind == "remand":
        return granted_at + REMAND_LIMIT
    if kind in ("interim_order", "full_order"):
        return add_months(granted_at, RENEWAL_MONTHS if renewal else FIRST_ORDER_MONTHS)
    return None


def hours_without_order(
    periods: Iterable[tuple[datetime, datetime | None]], *, now: datetime
) -> float:
    """Hours spent in secure accommodation without an order in the 28 days up to `now`."""
    start = now - WINDOW
    total = timedelta()
    for admitted, discharged in periods:
        begin, end = max(admitted, start), min(discharged or now, now)
        if end > begin:
            total += end - begin
    return round(total.total_seconds() / 3600, 2)


def working_days_after(start: date, days: int, nation: str) -> date:
    """The date `days` working days after `start`, skipping weekends and bank holidays."""
    subdivision = "WLS" if nation == "wales" else "ENG"
    off = holidays.country_holidays(
        "GB", subdiv=subdivision, years=range(start.year, start.year + 2)
    )
    current, counted = start, 0
    while counted < days:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in off:
            counted += 1
    return current


def first_review_due(admitted_at: datetime, nation: str) -> datetime:
    """When the first statutory review must have happened: a month (Wales: 15 working days)."""
    if nation == "wales":
        due = working_days_after(admitted_at.date(), WALES_FIRST_REVIEW_WORKING_DAYS, nation)
        return datetime.combine(due, time(23, 59), tzinfo=admitted_at.tzinfo)
    return add_months(admitted_at, 1)


def next_review_due(last_review_at: datetime) -> datetime:
    """The next review is due at most three months after the last one held."""
    return add_months(last_review_at, REVIEW_INTERVAL_MONTHS)
