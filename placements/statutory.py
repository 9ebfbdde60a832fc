"""Statutory deadlines and limits, per jurisdiction: orders, the 72-hour rule, reviews, holidays.

Every number the law sets lives here once; use cases ask these functions and never branch on a
nation themselves, so another jurisdiction is one more `Jurisdiction` entry (docs/statutory.md).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import holidays

# Children Act 1989 s.25 and the Children (Secure Accommodation) Regulations 1991, reg 10: without a
# court's authority a child may be kept at most 72 hours, in total, in any 28 consecutive days.
WITHOUT_ORDER_LIMIT_HOURS = 72.0
WITHOUT_ORDER_WINDOW = timedelta(days=28)
# The service warns (and the demand check escalates) once a child reaches 48 of those 72 hours.
WITHOUT_ORDER_WARNING_HOURS = 48.0
# Reg 11-12: a first order up to 3 months, each renewal up to 6; a remand up to 28 days.
FIRST_ORDER_MONTHS = 3
RENEWAL_MONTHS = 6
REMAND_LIMIT = timedelta(days=28)
# A placement whose authority is about to run out is flagged this long before it does.
ORDER_EXPIRY_NOTICE = timedelta(days=7)
# Reg 4: a child under this age needs the Secretary of State's (Wales: Welsh Ministers') approval.
APPROVAL_AGE = 13

# Which kinds of authority each legal basis takes ("none": a welfare child held without an order,
# within the 72 hours).
ORDER_KINDS_BY_BASIS: dict[str, tuple[str, ...]] = {
    "welfare": ("none", "interim_order", "full_order"),
    "remand": ("remand",),
    "sentence": ("sentence",),
}
# Bases whose child may not be admitted before the authority exists (a welfare child may be held
# without an order for up to 72 hours, so its order may come after the admission).
ORDER_NEEDED_AT_ADMISSION = ("remand", "sentence")


@dataclass(frozen=True)
class Jurisdiction:
    """A nation's clocks: its bank holidays, review intervals and who approves under-13s."""

    name: str
    holiday_subdivision: str
    first_review_months: int | None
    first_review_working_days: int | None
    review_interval_months: int
    under_13_approver: str


# Regs 15-16 (England) and their Welsh counterparts: the first review within a month of the start
# (Wales: 15 working days), then at intervals of no more than three months.
JURISDICTIONS = {
    "england": Jurisdiction("england", "ENG", 1, None, 3, "the Secretary of State"),
    "wales": Jurisdiction("wales", "WLS", None, 15, 3, "the Welsh Ministers"),
}


def jurisdiction(nation: str) -> Jurisdiction:
    """The clocks of a nation (England's when the nation is not known)."""
    return JURISDICTIONS.get(nation, JURISDICTIONS["england"])


def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` later, or the month's last day when it has no such day."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def order_limit(kind: str, granted_at: datetime, *, renewal: bool) -> datetime | None:
    """The latest expiry the law allows for an order granted at `granted_at` (None: no limit)."""
    if kind == "remand":
        return granted_at + REMAND_LIMIT
    if kind in ("interim_order", "full_order"):
        return add_months(granted_at, RENEWAL_MONTHS if renewal else FIRST_ORDER_MONTHS)
    return None


def order_limit_text(kind: str, *, renewal: bool) -> str:
    """The limit of `order_limit` in words."""
    if kind == "remand":
        return "28 days"
    return f"{RENEWAL_MONTHS if renewal else FIRST_ORDER_MONTHS} months"


def needs_approval(age: int) -> bool:
    """Whether a child of this age needs the minister's approval before placement."""
    return age < APPROVAL_AGE


def _merged(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for begin, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return merged


def hours_without_order(
    stays: Iterable[tuple[datetime, datetime | None]],
    orders: Iterable[tuple[datetime, datetime]] = (),
    *,
    now: datetime,
) -> float:
    """Hours in secure accommodation not covered by an order in force, in the 28 days to `now`.

    `stays` are (admitted, discharged or None) and `orders` (granted, expires): an hour after an
    order expired counts exactly as an hour without one.
    """
    start = now - WITHOUT_ORDER_WINDOW
    covered = _merged(orders)
    total = timedelta()
    for admitted, discharged in stays:
        begin, end = max(admitted, start), min(discharged or now, now)
        if end <= begin:
            continue
        total += end - begin
        for granted, expires in covered:
            overlap = min(end, expires) - max(begin, granted)
            if overlap > timedelta(0):
                total -= overlap
    return round(total.total_seconds() / 3600, 2)


def without_order_breach(hours: float) -> bool:
    """Whether a child has been kept without an order for longer than the law allows."""
    return hours > WITHOUT_ORDER_LIMIT_HOURS


def without_order_warning(hours: float) -> bool:
    """Whether a child has reached the warning mark of the 72 hours."""
    return hours >= WITHOUT_ORDER_WARNING_HOURS


@lru_cache(maxsize=64)
def _bank_holidays(subdivision: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv=subdivision, years=year))


def working_day(day: date, nation: str = "england") -> bool:
    """Whether a day is a working day in the nation (weekends and bank holidays are not)."""
    subdivision = jurisdiction(nation).holiday_subdivision
    return day.weekday() < 5 and day not in _bank_holidays(subdivision, day.year)


def working_days_after(start: date, days: int, nation: str = "england") -> date:
    """The date `days` working days after `start`, skipping weekends and bank holidays."""
    current, counted = start, 0
    while counted < days:
        current += timedelta(days=1)
        if working_day(current, nation):
            counted += 1
    return current


def first_review_due(admitted_at: datetime, nation: str) -> datetime:
    """When the first statutory review must have been held: a month (Wales: 15 working days)."""
    rules = jurisdiction(nation)
    if rules.first_review_working_days is not None:
        due = working_days_after(admitted_at.date(), rules.first_review_working_days, nation)
        return datetime.combine(due, time(23, 59), tzinfo=admitted_at.tzinfo)
    return add_months(admitted_at, rules.first_review_months or 1)


def next_review_due(last_review_at: datetime, nation: str = "england") -> datetime:
    """The next review is due at most three months after the last one held."""
    return add_months(last_review_at, jurisdiction(nation).review_interval_months)


def review_due(
    statutory_due: datetime,
    *,
    order_granted_at: datetime | None,
    order_expires_at: datetime | None,
    last_review_at: datetime | None,
) -> datetime:
    """A review is due by its statutory date, or before the order runs out if that comes first.

    The panel's view of whether the criteria still apply should be ready when the authority goes
    back to court, so an order that expires before the statutory date brings the review forward,
    unless the panel has already reviewed the placement since that order was made. A renewed order
    moves the review back to its statutory date.
    """
    reviewed_under_order = (
        last_review_at is not None
        and order_granted_at is not None
        and last_review_at >= order_granted_at
    )
    expires_first = order_expires_at is not None and order_expires_at < statutory_due
    if expires_first and not reviewed_under_order:
        assert order_expires_at is not None
        return order_expires_at
    return statutory_due


def order_expiring(expires_at: datetime | None, now: datetime) -> bool:
    """Whether an order runs out within the notice period (or has run out)."""
    return expires_at is not None and expires_at - now <= ORDER_EXPIRY_NOTICE
