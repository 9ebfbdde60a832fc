"""Placing local authorities: registering them (admin, and the seed) and listing them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select

from placements import access, audit
from placements.auth import Actor
from placements.db import Sessions
from placements.errors import NotFound
from placements.ids import check_slug
from placements.models import LocalAuthority


@dataclass(frozen=True)
class AuthoritySpec:
    """A local authority as registered."""

    id: str
    name: str
    nation: str
    lat: float
    lon: float


@dataclass(frozen=True)
class AuthorityRegistered:
    """The outcome of registering an authority and whether anything changed."""

    authority: AuthoritySpec
    changed: bool


def _spec(row: LocalAuthority) -> AuthoritySpec:
    return AuthoritySpec(row.id, row.name, row.nation, row.lat, row.lon)


def register(
    sessions: Sessions, actor: Actor, spec: AuthoritySpec, *, now: datetime
) -> AuthorityRegistered:
    """Create or update a local authority; an identical registration changes nothing."""
    access.require(actor, "authorities.register")
    check_slug(spec.id)
    with sessions.begin() as session:
        row = session.get(LocalAuthority, spec.id)
        wanted = asdict(spec)
        if row is None:
            session.add(LocalAuthority(**wanted))
            audit.record(session, actor, "authority.register", "local_authority", spec.id,
                         at=now, after=wanted)  # fmt: skip
            return AuthorityRegistered(spec, True)
        before = asdict(_spec(row))
        if before == wanted:
            return AuthorityRegistered(spec, False)
        for key, value in wanted.items():
            setattr(row, key, value)
        audit.record(session, actor, "authority.update", "local_authority", spec.id,
                     at=now, before=before, after=wanted)  # fmt: skip
        return AuthorityRegistered(spec, True)


def list_authorities(sessions: Sessions, actor: Actor) -> list[AuthoritySpec]:
    """Every local authority, by id (any authenticated role)."""
    with sessions.read() as session:
        return [
            _spec(r) for r in session.scalars(select(LocalAuthority).order_by(LocalAuthority.id))
        ]


def get_authority(sessions: Sessions, actor: Actor, authority_id: str) -> AuthoritySpec:
    """One local authority."""
    with sessions.read() as session:
        row = session.get(LocalAuthority, authority_id)
        if row is None:
            raise NotFound(f"local authority {authority_id!r} does not exist")
        return _spec(row)
