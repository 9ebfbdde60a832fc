"""Panels and their members: review panels of placing authorities and escalation panels."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from placements import access, audit
from placements.auth import Actor
from placements.db import Sessions
from placements.errors import Conflict, InvalidInput, NotFound
from placements.ids import new_id
from placements.models import LocalAuthority, Panel, PanelMember

MINIMUM_REVIEWERS = 3
SECRET_PREFIX = "whsec_"


@dataclass(frozen=True)
class MemberSpec:
    """A member as registered: `independent` of the placing authority or not."""

    name: str
    email: str
    role: str = "member"
    independent: bool = False


@dataclass(frozen=True)
class PanelSpec:
    """A panel as registered; a `webhook_secret` of None keeps the current one."""

    name: str
    kind: str
    authority_id: str | None = None
    region: str | None = None
    members: tuple[MemberSpec, ...] = ()
    webhook_url: str | None = None
    webhook_secret: str | None = None


@dataclass(frozen=True)
class PanelView:
    """A panel with its members and whether it can lawfully sit (the secret is never shown)."""

    id: str
    name: str
    kind: str
    authority_id: str | None
    region: str | None
    members: list[MemberSpec]
    webhook_url: str | None
    webhook_secret_set: bool
    can_sit: bool
    cannot_sit_reasons: list[str]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class PanelRegistered:
    """The outcome of registering a panel and whether anything changed."""

    panel: PanelView
    changed: bool


def sitting_problems(kind: str, members: list[MemberSpec] | tuple[MemberSpec, ...]) -> list[str]:
    """Why a panel cannot lawfully sit (regs 15-16 for review panels); empty when it can."""
    if kind != "review":
        return [] if members else ["the panel has no members"]
    problems = []
    if len(members) < MINIMUM_REVIEWERS:
        problems.append(
            f"a review panel needs at least {MINIMUM_REVIEWERS} members; it has {len(members)}"
        )
    if not any(m.independent for m in members):
        problems.append("a review panel needs at least one member independent of the authority")
    return problems


def signing_key(secret: str) -> bytes:
    """The HMAC key of a webhook secret: `whsec_<base64>` decoded, any other secret as UTF-8."""
    if secret.startswith(SECRET_PREFIX):
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    return secret.encode()


def member_email_of(actor: Actor) -> str:
    """The member a panel token speaks for: its label, up to an optional `#suffix`."""
    return actor.label.split("#", 1)[0].strip().lower()


def member_of(actor: Actor, panel: Panel) -> PanelMember | None:
    """The panel's member behind a panel token, if the token belongs to this panel."""
    if actor.role != "panel" or actor.panel_id != panel.id:
        return None
    email = member_email_of(actor)
    return next((m for m in panel.members if m.email == email), None)


def members_of(panel: Panel) -> list[MemberSpec]:
    """The panel's members as specs."""
    return [MemberSpec(m.name, m.email, m.role, m.independent) for m in panel.members]


def view_of(panel: Panel) -> PanelView:
    """Describe a panel."""
    members = members_of(panel)
    problems = sitting_problems(panel.kind, members)
    return PanelView(
        id=panel.id,
        name=panel.name,
        kind=panel.kind,
        authority_id=panel.authority_id,
        region=panel.region,
        members=members,
        webhook_url=panel.webhook_url,
        webhook_secret_set=bool(panel.webhook_secret),
        can_sit=not problems,
        cannot_sit_reasons=problems,
        created_at=panel.created_at,
        updated_at=panel.updated_at,
    )


def _state(panel: Panel) -> dict[str, Any]:
    """What the audit log keeps of a panel (never the secret itself)."""
    return {
        "name": panel.name,
        "kind": panel.kind,
        "authority_id": panel.authority_id,
        "region": panel.region,
        "members": [_member_fields(m) for m in panel.members],
        "webhook_url": panel.webhook_url,
        "webhook_secret_set": bool(panel.webhook_secret),
    }


def _member_fields(member: PanelMember) -> dict[str, Any]:
    return {
        "name": member.name,
        "email": member.email,
        "role": member.role,
        "independent": member.independent,
    }


def _check(session: Session, spec: PanelSpec, panel_id: str, current: Panel | None) -> None:
    """Every rule the spec breaks, by field (existence of the authority included)."""
    errors: dict[str, list[str]] = {}
    if current is not None and current.kind != spec.kind:
        errors["kind"] = [f"a {current.kind} panel stays one: create a new panel instead"]
    elif current is not None and current.authority_id != spec.authority_id:
        errors["authority_id"] = [
            f"the panel belongs to {current.authority_id!r}: create a new panel instead"
        ]
    if spec.kind == "review" and not spec.authority_id:
        errors["authority_id"] = ["required for a review panel"]
    if spec.kind == "escalation" and spec.authority_id:
        errors["authority_id"] = ["an escalation panel belongs to no authority"]
    if spec.authority_id and session.get(LocalAuthority, spec.authority_id) is None:
        errors["authority_id"] = [f"local authority {spec.authority_id!r} does not exist"]
    emails = [m.email.lower() for m in spec.members]
    if len(set(emails)) != len(emails):
        errors["members"] = ["each member's email must be different"]
    elif sum(m.role == "chair" for m in spec.members) > 1:
        errors["members"] = ["a panel has at most one chair"]
    secret = spec.webhook_secret or (current.webhook_secret if current else None)
    if spec.webhook_url and not secret:
        errors["webhook_secret"] = ["required with a webhook_url"]
    if spec.webhook_secret and spec.webhook_secret.startswith(SECRET_PREFIX):
        try:
            if not signing_key(spec.webhook_secret):
                raise ValueError
        except (binascii.Error, ValueError):
            errors["webhook_secret"] = ["a whsec_ secret must be base64 after the prefix"]
    if errors:
        raise InvalidInput(f"panel {panel_id} breaks the rules", errors=errors)
    if spec.authority_id:
        other = session.scalars(
            select(Panel.id).where(Panel.authority_id == spec.authority_id, Panel.id != panel_id)
        ).first()
        if other is not None:
            raise Conflict(f"authority {spec.authority_id!r} already has review panel {other!r}")


def _apply(panel: Panel, spec: PanelSpec) -> None:
    panel.name, panel.kind = spec.name, spec.kind
    panel.authority_id, panel.region = spec.authority_id, spec.region
    panel.webhook_url = spec.webhook_url
    if spec.webhook_url is None:
        panel.webhook_secret = None
    elif spec.webhook_secret is not None:
        panel.webhook_secret = spec.webhook_secret
    kept = {m.email: m for m in panel.members}
    panel.members = []
    for member in spec.members:
        row = kept.get(member.email.lower()) or PanelMember(email=member.email.lower())
        row.name, row.role, row.independent = member.name, member.role, member.independent
        panel.members.append(row)


def _unchanged(panel: Panel, spec: PanelSpec) -> bool:
    wanted = sorted((m.email.lower(), m.name, m.role, m.independent) for m in spec.members)
    held = sorted((m.email, m.name, m.role, m.independent) for m in panel.members)
    return (
        (panel.name, panel.kind, panel.authority_id, panel.region, panel.webhook_url)
        == (spec.name, spec.kind, spec.authority_id, spec.region, spec.webhook_url)
        and wanted == held
        and (spec.webhook_secret is None or spec.webhook_secret == panel.webhook_secret)
    )


def _load(session: Session, panel_id: str) -> Panel | None:
    return session.get(Panel, panel_id, options=[selectinload(Panel.members)])


def _create(session: Session, actor: Actor, panel_id: str, spec: PanelSpec, now: datetime) -> Panel:
    _check(session, spec, panel_id, None)
    panel = Panel(id=panel_id, created_at=now, updated_at=now, members=[])
    _apply(panel, spec)
    session.add(panel)
    session.flush()
    audit.record(session, actor, "panel.create", "panel", panel_id, at=now, after=_state(panel))
    return panel


def _update(session: Session, actor: Actor, panel: Panel, spec: PanelSpec, now: datetime) -> bool:
    _check(session, spec, panel.id, panel)
    if _unchanged(panel, spec):
        return False
    before = _state(panel)
    _apply(panel, spec)
    panel.updated_at = now
    session.flush()
    audit.record(session, actor, "panel.update", "panel", panel.id, at=now, before=before,
                 after=_state(panel))  # fmt: skip
    return True


def create(sessions: Sessions, actor: Actor, spec: PanelSpec, *, now: datetime,
           panel_id: str | None = None) -> PanelView:  # fmt: skip
    """Create a panel (admin); its id is chosen by the client or generated."""
    access.require(actor, "panels.create")
    with sessions.begin() as session:
        wanted = panel_id or new_id("PNL")
        if session.get(Panel, wanted) is not None:
            raise Conflict(f"panel {wanted!r} already exists")
        return view_of(_create(session, actor, wanted, spec, now))


def update(sessions: Sessions, actor: Actor, panel_id: str, spec: PanelSpec, *,
           now: datetime) -> PanelView:  # fmt: skip
    """Replace a panel's name, members and webhook (admin); an identical update changes nothing."""
    access.require(actor, "panels.update")
    with sessions.begin() as session:
        panel = _load(session, panel_id)
        if panel is None:
            raise NotFound(f"panel {panel_id!r} does not exist")
        _update(session, actor, panel, spec, now)
        return view_of(panel)


def register(sessions: Sessions, actor: Actor, panel_id: str, spec: PanelSpec, *,
             now: datetime) -> PanelRegistered:  # fmt: skip
    """Create or update a panel (the seed); an identical registration changes nothing."""
    actor.require("admin")
    with sessions.begin() as session:
        panel = _load(session, panel_id)
        if panel is None:
            return PanelRegistered(view_of(_create(session, actor, panel_id, spec, now)), True)
        changed = _update(session, actor, panel, spec, now)
        return PanelRegistered(view_of(panel), changed)


def list_panels(sessions: Sessions, actor: Actor) -> list[PanelView]:
    """Panels the actor may see: all (admin), own (panel), own and escalation ones (director)."""
    access.require(actor, "panels.list")
    with sessions.read() as session:
        panels = session.scalars(
            select(Panel)
            .where(access.panels_visible(actor))
            .options(selectinload(Panel.members))
            .order_by(Panel.id)
        ).all()
        return [view_of(p) for p in panels]


def get_panel(sessions: Sessions, actor: Actor, panel_id: str) -> PanelView:
    """One panel, if the actor may see it."""
    access.require(actor, "panels.get")
    with sessions.read() as session:
        return view_of(access.load_panel(session, actor, panel_id))


def exists(session: Session, panel_id: str) -> bool:
    """Whether a panel with this id exists."""
    return session.get(Panel, panel_id) is not None
