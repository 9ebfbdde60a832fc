"""Court orders: which kinds fit which legal basis, their limits, and the time they cover.

A request holds its current authority (`order_kind`, `order_granted_at`, ...) and every order ever
recorded on it (`court_order` rows). The 72-hour clock counts a child's welfare stays, across all
of the authority's requests for the same case reference, minus the time any of those orders was in
force: an hour after an order expired counts as an hour without one (docs/statutory.md).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, bindparam, or_, select
from sqlalchemy.orm import Session

from placements import statutory
from placements.ids import new_id
from placements.models import CourtOrder, Placement, PlacementRequest


@dataclass(frozen=True)
class LegalAuthority:
    """What authorises keeping the child in secure accommodation."""

    kind: str = "none"
    granted_at: datetime | None = None
    expires_at: datetime | None = None
    renewal: bool = False


@dataclass(frozen=True)
class OrderView:
    """A court order as recorded on a request."""

    id: str
    kind: str
    granted_at: datetime
    expires_at: datetime
    renewal: bool
    recorded_at: datetime
    recorded_by: str


@dataclass(frozen=True)
class ChildClock:
    """A child's time without an order in the 28 days to `now`, and what that means."""

    hours: float
    warning: bool
    breach: bool


def _kind_errors(legal_basis: str, kind: str) -> dict[str, list[str]]:
    allowed = statutory.ORDER_KINDS_BY_BASIS.get(legal_basis, ())
    if kind in allowed:
        return {}
    return {"authority.kind": [f"a {legal_basis} request takes {' or '.join(allowed)}, not {kind}"]}


def authority_errors(
    legal_basis: str, authority: LegalAuthority, *, now: datetime
) -> dict[str, list[str]]:
    """What is wrong with a placement's legal authority, by field."""
    errors = _kind_errors(legal_basis, authority.kind)
    if errors:
        return errors
    kind, granted, expires = authority.kind, authority.granted_at, authority.expires_at
    if kind == "none":
        return {"authority": ["no dates without an order"]} if granted or expires else {}
    if granted is None or expires is None:
        return {"authority": [f"an order of kind {kind} needs granted_at and expires_at"]}
    if granted > now:
        return {"authority.granted_at": ["must not be in the future: record an order once made"]}
    if expires <= granted:
        return {"authority.expires_at": ["must be after granted_at"]}
    limit = statutory.order_limit(kind, granted, renewal=authority.renewal)
    if limit is not None and expires > limit:
        allowed = statutory.order_limit_text(kind, renewal=authority.renewal)
        return {
            "authority.expires_at": [f"longer than the law allows ({allowed}): {limit:%Y-%m-%d}"]
        }
    return {}


def add(session: Session, request: PlacementRequest, authority: LegalAuthority, *, by: str,
        now: datetime) -> CourtOrder | None:  # fmt: skip
    """Record an order on the request; the one that lasts longest becomes its current authority."""
    if authority.kind == "none" or authority.granted_at is None or authority.expires_at is None:
        return None
    order = CourtOrder(
        id=new_id("ORD"), request_id=request.id, kind=authority.kind,
        granted_at=authority.granted_at, expires_at=authority.expires_at,
        renewal=authority.renewal, recorded_at=now, recorded_by=by,
    )  # fmt: skip
    session.add(order)
    session.flush()
    current = lasting(session, request.id)
    if current is not None:
        request.order_kind, request.order_renewal = current.kind, current.renewal
        request.order_granted_at, request.order_expires_at = current.granted_at, current.expires_at
    return order


def replace_all(session: Session, request: PlacementRequest, authority: LegalAuthority, *,
                by: str, now: datetime) -> None:  # fmt: skip
    """Put `authority` in place of every order recorded on the request (a correction)."""
    for order in session.scalars(select(CourtOrder).where(CourtOrder.request_id == request.id)):
        session.delete(order)
    session.flush()
    request.order_kind, request.order_renewal = authority.kind, authority.renewal
    request.order_granted_at, request.order_expires_at = authority.granted_at, authority.expires_at
    add(session, request, authority, by=by, now=now)


def lasting(session: Session, request_id: str) -> CourtOrder | None:
    """The request's order that runs longest: the one in force, if any order is.

    No order is granted after it is recorded, so this choice does not change with time.
    """
    return session.scalars(
        select(CourtOrder)
        .where(CourtOrder.request_id == request_id)
        .order_by(CourtOrder.expires_at.desc(), CourtOrder.granted_at.desc(), CourtOrder.id)
    ).first()


def recorded(session: Session, request_id: str) -> list[OrderView]:
    """Every order recorded on the request, earliest granted first."""
    rows = session.scalars(
        select(CourtOrder)
        .where(CourtOrder.request_id == request_id)
        .order_by(CourtOrder.granted_at, CourtOrder.recorded_at, CourtOrder.id)
    )
    return [
        OrderView(o.id, o.kind, o.granted_at, o.expires_at, o.renewal, o.recorded_at, o.recorded_by)
        for o in rows
    ]


def _same_child(
    authority_id: str, case_reference: str
) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return (
        PlacementRequest.authority_id == authority_id,
        PlacementRequest.case_reference == case_reference,
    )


def child_stays(
    session: Session, authority_id: str, case_reference: str
) -> list[tuple[datetime, datetime | None]]:
    """The child's welfare stays in secure accommodation, on any of the authority's requests."""
    rows = session.execute(
        select(Placement.admitted_at, Placement.discharged_at)
        .join(PlacementRequest, PlacementRequest.id == Placement.request_id)
        .where(*_same_child(authority_id, case_reference), Placement.legal_basis == "welfare")
    )
    return [(admitted, discharged) for admitted, discharged in rows]


def child_orders(
    session: Session, authority_id: str, case_reference: str
) -> list[tuple[datetime, datetime]]:
    """The periods in which an order authorised keeping the child, on any of its requests."""
    rows = session.execute(
        select(CourtOrder.granted_at, CourtOrder.expires_at)
        .join(PlacementRequest, PlacementRequest.id == CourtOrder.request_id)
        .where(*_same_child(authority_id, case_reference))
    )
    return [(granted, expires) for granted, expires in rows]


# The welfare stays and the orders that reach into the 72-hour clock's window (after `since`),
# every child's, each in one prebuilt statement: what ended before the window counts for nothing in
# it, and the few rows left are fewer than a per-child filter costs to evaluate.
STAYS_SINCE = (
    select(PlacementRequest.authority_id, PlacementRequest.case_reference,
           Placement.admitted_at, Placement.discharged_at)
    .join(PlacementRequest, PlacementRequest.id == Placement.request_id)
    .where(Placement.legal_basis == "welfare",
           or_(Placement.discharged_at.is_(None), Placement.discharged_at > bindparam("since")))
)  # fmt: skip
ORDERS_SINCE = (
    select(PlacementRequest.authority_id, PlacementRequest.case_reference,
           CourtOrder.granted_at, CourtOrder.expires_at)
    .join(PlacementRequest, PlacementRequest.id == CourtOrder.request_id)
    .where(CourtOrder.expires_at > bindparam("since"))
)  # fmt: skip


def child_hours_without_order(
    session: Session, children: Collection[tuple[str, str]], *, now: datetime
) -> dict[tuple[str, str], float]:
    """`child_clock`'s hours for many children (authority, case reference) in two reads: each
    child with a welfare stay in the clock's window."""
    wanted = set(children)
    since = {"since": now - statutory.WITHOUT_ORDER_WINDOW}
    connection = session.connection()
    stays: dict[tuple[str, str], list[tuple[datetime, datetime | None]]] = {}
    for authority_id, case, admitted, discharged in connection.execute(STAYS_SINCE, since):
        if (authority_id, case) in wanted:
            stays.setdefault((authority_id, case), []).append((admitted, discharged))
    if not stays:
        return {}
    covered: dict[tuple[str, str], list[tuple[datetime, datetime]]] = {}
    for authority_id, case, granted, expires in connection.execute(ORDERS_SINCE, since):
        if (authority_id, case) in stays:
            covered.setdefault((authority_id, case), []).append((granted, expires))
    return {
        child: statutory.hours_without_order(found, covered.get(child, []), now=now)
        for child, found in stays.items()
    }


def child_clock(
    session: Session, authority_id: str, case_reference: str, *, now: datetime
) -> ChildClock:
    """The child's hours without an order in the last 28 days, the 48-hour warning and a breach."""
    stays = child_stays(session, authority_id, case_reference)
    if not stays:
        return ChildClock(0.0, False, False)
    covered = child_orders(session, authority_id, case_reference)
    hours = statutory.hours_without_order(stays, covered, now=now)
    return ChildClock(
        hours, statutory.without_order_warning(hours), statutory.without_order_breach(hours)
    )
