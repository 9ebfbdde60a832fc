"""Requests and placements written straight into the database, for tests of panels and jobs."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select, update

from placements import statutory
from placements.db import Sessions
from placements.models import CourtOrder, LocalAuthority, Placement, PlacementRequest, Unit


def open_requests(sessions: Sessions, count: int, *, at: datetime, authority_id: str = "southwark",
                  legal_basis: str = "welfare") -> list[str]:  # fmt: skip
    """Open `count` waiting requests created at `at`, each with an order made then; their ids."""
    ids = []
    kind = "interim_order" if legal_basis == "welfare" else "remand"
    expires = statutory.order_limit(kind, at, renewal=False)
    assert expires is not None
    with sessions.begin() as session:
        for _ in range(count):
            request_id = f"REQ-{secrets.token_hex(4).upper()}"
            session.add(
                PlacementRequest(
                    id=request_id, authority_id=authority_id,
                    case_reference=f"CASE-{secrets.token_hex(3)}", age=15, sex="F",
                    legal_basis=legal_basis,
                    grounds=["harm_to_self"] if legal_basis == "welfare" else [],
                    needs=[], flags=[], under_13_approval=None, home_lat=51.47, home_lon=-0.08,
                    max_distance_km=None, exclusion_zones=[],
                    order_kind=kind, order_renewal=False, order_granted_at=at,
                    order_expires_at=expires,
                    needed_by=None, status="waiting", declined_by=[], created_at=at,
                    created_by="test", updated_at=at, version=1,
                )
            )  # fmt: skip
            session.flush()  # the request first: the order refers to it
            session.add(
                CourtOrder(id=f"ORD-{request_id}", request_id=request_id, kind=kind, granted_at=at,
                           expires_at=expires, renewal=False, recorded_at=at, recorded_by="test")
            )  # fmt: skip
            ids.append(request_id)
    return ids


def withdraw(sessions: Sessions, request_ids: list[str]) -> None:
    """Mark requests withdrawn."""
    with sessions.begin() as session:
        session.execute(
            update(PlacementRequest)
            .where(PlacementRequest.id.in_(request_ids))
            .values(status="withdrawn")
        )


def admit(sessions: Sessions, *, authority_id: str, admitted_at: datetime) -> str:
    """A welfare child placed in a welfare unit, its first review due as admission sets it."""
    request_id = open_requests(sessions, 1, at=admitted_at, authority_id=authority_id)[0]
    with sessions.begin() as session:
        unit = session.scalars(select(Unit).where(Unit.designation == "welfare")).first()
        authority = session.get(LocalAuthority, authority_id)
        request = session.get(PlacementRequest, request_id)
        assert unit is not None and authority is not None and request is not None
        request.status = "placed"
        placement_id = f"PLC-{secrets.token_hex(4).upper()}"
        session.add(
            Placement(
                id=placement_id, request_id=request_id, unit_id=unit.id,
                provider_id=unit.provider_id, authority_id=authority_id, legal_basis="welfare",
                flags=[], status="active", admitted_at=admitted_at, admitted_by="test",
                next_review_due=statutory.first_review_due(admitted_at, authority.nation),
            )
        )  # fmt: skip
    return placement_id


def discharge(sessions: Sessions, placement_id: str, at: datetime) -> None:
    """Discharge a placement, as the workflow does."""
    with sessions.begin() as session:
        placement = session.get(Placement, placement_id)
        assert placement is not None
        placement.status, placement.discharged_at = "discharged", at
        placement.destination, placement.next_review_due = "home", None
