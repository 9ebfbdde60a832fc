"""Meetings the service calls: calling once per key, changes, acknowledgements and outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from placements import access, audit, invitations, notifications, review_dates, statutory
from placements.auth import SYSTEM, Actor
from placements.config import Settings
from placements.db import Sessions
from placements.errors import Forbidden, InvalidInput, InvalidTransition, NotFound
from placements.ids import new_id
from placements.models import Meeting, MeetingAcknowledgement, Panel, PanelMember, Placement
from placements.paging import Page, window
from placements.panels import MINIMUM_REVIEWERS, member_of, members_of, sitting_problems

LONDON = ZoneInfo("Europe/London")
MEETING_HOUR = time(10, 0)
RED_NOTICE = timedelta(hours=1)
OPEN_STATUSES = ("called", "overdue")
# A review is quorate with at least panels.MINIMUM_REVIEWERS of its panel's members present, at
# least this many of them independent of the authority (regs 15-16); the pages state this rule.
MINIMUM_INDEPENDENT = 1


@dataclass(frozen=True)
class MeetingCall:
    """A meeting to call, once per `call_key`."""

    call_key: str
    kind: str
    panel_id: str
    scheduled_for: datetime
    due_by: datetime | None
    agenda: dict[str, Any]
    request_ids: tuple[str, ...] = ()
    priority: str | None = None
    episode_id: str | None = None
    placement_id: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What the chair records once the meeting has been held."""

    held_at: datetime
    attendees: tuple[str, ...]
    recommendation: str
    text: str = ""


@dataclass(frozen=True)
class OutcomeView:
    """A held meeting's outcome, and for a review the next review's due date."""

    held_at: datetime
    attendees: list[str]
    recommendation: str
    text: str
    recorded_by: str
    next_review_due: datetime | None


@dataclass(frozen=True)
class MeetingView:
    """A meeting with its agenda and whether its panel can lawfully sit."""

    id: str
    kind: str
    panel_id: str
    panel_name: str
    status: str
    priority: str | None
    due_by: datetime | None
    scheduled_for: datetime
    can_sit: bool
    cannot_sit_reasons: list[str]
    request_ids: list[str]
    placement_id: str | None
    episode_id: str | None
    agenda: dict[str, Any]
    sequence: int
    called_at: datetime
    updated_at: datetime
    acknowledged_by: list[str]
    outcome: OutcomeView | None


@dataclass(frozen=True)
class MeetingFilter:
    """Which meetings to list."""

    kind: str | None = None
    status: str | None = None
    panel_id: str | None = None
    page: int = 1
    page_size: int = 50
    newest_first: bool = False  # latest scheduled first (a record of held meetings)


@dataclass(frozen=True)
class Invitation:
    """A meeting's iCalendar invitation."""

    meeting_id: str
    content: bytes = field(repr=False)


def at_meeting_hour(day: date) -> datetime:
    """10:00 London time on a day, as a UTC-aware datetime."""
    return datetime.combine(day, MEETING_HOUR, tzinfo=LONDON).astimezone(UTC)


def next_working_day_meeting(now: datetime) -> datetime:
    """10:00 on the next working day after `now` (London time)."""
    today = now.astimezone(LONDON).date()
    return at_meeting_hour(statutory.working_days_after(today, 1))


def soon(now: datetime) -> datetime:
    """An urgent meeting's time: an hour from now, on the next quarter hour."""
    moment = now + RED_NOTICE
    extra = (-moment.minute) % 15
    return (moment + timedelta(minutes=extra)).replace(second=0, microsecond=0)


def review_meeting_time(due_by: datetime, now: datetime) -> datetime:
    """10:00 on the last working day before the due date, or soon when that has passed."""
    day = due_by.astimezone(LONDON).date() - timedelta(days=1)
    while not statutory.working_day(day):
        day -= timedelta(days=1)
    planned = at_meeting_hour(day)
    return planned if planned >= soon(now) else soon(now)


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def load_panel(session: Session, panel_id: str) -> Panel:
    """A panel with its members (it must exist)."""
    panel = session.get(Panel, panel_id, options=[selectinload(Panel.members)])
    if panel is None:
        raise NotFound(f"panel {panel_id!r} does not exist")
    return panel


def call(session: Session, wanted: MeetingCall, *, settings: Settings,
         now: datetime) -> Meeting | None:  # fmt: skip
    """Call the meeting and notify its panel; None when its key was called before."""
    meeting_id = session.execute(
        _insert(session)(Meeting)
        .values(
            id=new_id("MTG"), call_key=wanted.call_key, kind=wanted.kind,
            panel_id=wanted.panel_id, episode_id=wanted.episode_id,
            placement_id=wanted.placement_id, status="called", priority=wanted.priority,
            due_by=wanted.due_by, scheduled_for=wanted.scheduled_for,
            request_ids=list(wanted.request_ids), agenda=wanted.agenda, sequence=0,
            called_at=now, updated_at=now,
        )
        .on_conflict_do_nothing()
        .returning(Meeting.id)
    ).scalar_one_or_none()  # fmt: skip
    if meeting_id is None:
        return None
    meeting = session.get(Meeting, meeting_id)
    assert meeting is not None
    panel = load_panel(session, wanted.panel_id)
    notifications.enqueue(session, meeting, panel, "meeting.called", organizer=settings.mail_from,
                          now=now)  # fmt: skip
    after = {
        "kind": meeting.kind,
        "panel_id": panel.id,
        "call_key": wanted.call_key,
        "priority": meeting.priority,
        "can_sit": not sitting_problems(panel.kind, members_of(panel)),
    }
    audit.record(session, SYSTEM, "meeting.call", "meeting", meeting.id, at=now, after=after)
    return meeting


def change(session: Session, actor: Actor, meeting_id: str, event: str, *,
           when: list[ColumnElement[bool]], values: dict[str, Any], settings: Settings,
           now: datetime) -> Meeting | None:  # fmt: skip
    """Change a meeting if it still meets `when`, and notify its panel; None if it did not."""
    changed = session.execute(
        update(Meeting)
        .where(Meeting.id == meeting_id, *when)
        .values(**values, sequence=Meeting.sequence + 1, updated_at=now)
        .returning(Meeting.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if changed is None:
        return None
    meeting = session.get(Meeting, meeting_id, populate_existing=True)
    assert meeting is not None
    panel = load_panel(session, meeting.panel_id)
    notifications.enqueue(session, meeting, panel, event, organizer=settings.mail_from, now=now)
    audit.record(session, actor, event, "meeting", meeting.id, at=now,
                 after={k: _plain(v) for k, v in values.items()})  # fmt: skip
    return meeting


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def view_of(session: Session, meeting: Meeting) -> MeetingView:
    """Describe a meeting."""
    panel = load_panel(session, meeting.panel_id)
    problems = sitting_problems(panel.kind, members_of(panel))
    acknowledged = session.scalars(
        select(MeetingAcknowledgement.member_email)
        .where(MeetingAcknowledgement.meeting_id == meeting.id)
        .order_by(MeetingAcknowledgement.member_email)
    ).all()
    return MeetingView(
        id=meeting.id,
        kind=meeting.kind,
        panel_id=panel.id,
        panel_name=panel.name,
        status=meeting.status,
        priority=meeting.priority,
        due_by=meeting.due_by,
        scheduled_for=meeting.scheduled_for,
        can_sit=not problems,
        cannot_sit_reasons=problems,
        request_ids=list(meeting.request_ids),
        placement_id=meeting.placement_id,
        episode_id=meeting.episode_id,
        agenda=dict(meeting.agenda),
        sequence=meeting.sequence,
        called_at=meeting.called_at,
        updated_at=meeting.updated_at,
        acknowledged_by=list(acknowledged),
        outcome=_outcome_of(session, meeting),
    )


def _outcome_of(session: Session, meeting: Meeting) -> OutcomeView | None:
    if meeting.held_at is None or meeting.recommendation is None:
        return None
    placement = session.get(Placement, meeting.placement_id) if meeting.placement_id else None
    return OutcomeView(
        held_at=meeting.held_at,
        attendees=list(meeting.attendees or []),
        recommendation=meeting.recommendation,
        text=meeting.outcome_text or "",
        recorded_by=meeting.outcome_by or "",
        next_review_due=placement.next_review_due if placement else None,
    )


def list_meetings(sessions: Sessions, actor: Actor, query: MeetingFilter) -> Page[MeetingView]:
    """A page of meetings, soonest first: every one (admin) or the member's own panel's."""
    access.require(actor, "meetings.list")
    statement = select(Meeting).where(access.meetings_visible(actor))
    if query.kind:
        statement = statement.where(Meeting.kind == query.kind)
    if query.status:
        statement = statement.where(Meeting.status == query.status)
    if query.panel_id:
        statement = statement.where(Meeting.panel_id == query.panel_id)
    if query.newest_first:
        statement = statement.order_by(Meeting.scheduled_for.desc(), Meeting.id.desc())
    else:
        statement = statement.order_by(Meeting.scheduled_for, Meeting.id)
    with sessions.read() as session:
        rows, total = window(session, statement, page=query.page, page_size=query.page_size)
        views = [view_of(session, m) for (m,) in rows]
    return Page(views, total, query.page, query.page_size)


def get_meeting(sessions: Sessions, actor: Actor, meeting_id: str) -> MeetingView:
    """One meeting with its agenda."""
    access.require(actor, "meetings.get")
    with sessions.read() as session:
        return view_of(session, access.load_meeting(session, actor, meeting_id))


def invitation(sessions: Sessions, actor: Actor, meeting_id: str, *,
               settings: Settings) -> Invitation:  # fmt: skip
    """The meeting's current iCalendar invitation (a stable UID; SEQUENCE grows with changes)."""
    access.require(actor, "meetings.invitation")
    with sessions.read() as session:
        meeting = access.load_meeting(session, actor, meeting_id)
        panel = load_panel(session, meeting.panel_id)
        return Invitation(
            meeting.id, invitations.invitation(meeting, panel, organizer=settings.mail_from)
        )


def _member(session: Session, actor: Actor, meeting: Meeting, *, chair: bool) -> str:
    """The email of the panel member acting, who must be the chair when `chair`."""
    panel = load_panel(session, meeting.panel_id)
    member = member_of(actor, panel)
    if member is None:
        raise Forbidden("only a member of the meeting's panel may do this")
    if chair and member.role != "chair":
        raise Forbidden("only the panel's chair may record an outcome")
    return member.email


def acknowledge(sessions: Sessions, actor: Actor, meeting_id: str, *,
                now: datetime) -> MeetingView:  # fmt: skip
    """A member acknowledges the call; acknowledging again changes nothing."""
    access.require(actor, "meetings.acknowledge")
    with sessions.begin() as session:
        meeting = access.load_meeting(session, actor, meeting_id)
        email = _member(session, actor, meeting, chair=False)
        added = session.execute(
            _insert(session)(MeetingAcknowledgement)
            .values(meeting_id=meeting.id, member_email=email, at=now)
            .on_conflict_do_nothing()
            .returning(MeetingAcknowledgement.member_email)
        ).scalar_one_or_none()
        if added is not None:
            audit.record(session, actor, "meeting.acknowledge", "meeting", meeting.id, at=now,
                         after={"member": email})  # fmt: skip
        return view_of(session, meeting)


def record_outcome(sessions: Sessions, actor: Actor, meeting_id: str, outcome: Outcome, *,
                   settings: Settings, now: datetime) -> MeetingView:  # fmt: skip
    """The chair records the meeting as held; a review outcome sets the next review's due date."""
    access.require(actor, "meetings.record_outcome")
    if outcome.held_at > now:
        raise InvalidInput("the meeting cannot be held in the future",
                           errors={"held_at": ["must not be in the future"]})  # fmt: skip
    with sessions.begin() as session:
        meeting = access.load_meeting(session, actor, meeting_id)
        email = _member(session, actor, meeting, chair=True)
        _check_held_after_start(session, meeting, outcome.held_at)
        if meeting.kind == "review":
            _check_quorum(load_panel(session, meeting.panel_id), outcome.attendees)
        values = {
            "status": "held", "held_at": outcome.held_at, "attendees": list(outcome.attendees),
            "recommendation": outcome.recommendation, "outcome_text": outcome.text,
            "outcome_by": email,
        }  # fmt: skip
        held = change(session, actor, meeting.id, "meeting.held",
                      when=[Meeting.status.in_(OPEN_STATUSES)], values=values, settings=settings,
                      now=now)  # fmt: skip
        if held is None:
            raise InvalidTransition(f"meeting {meeting_id} is {meeting.status}, not called")
        if held.kind == "review" and held.placement_id:
            _set_next_review(session, actor, held.placement_id, now)
        return view_of(session, held)


def _attending_members(
    panel: Panel, attendees: tuple[str, ...]
) -> tuple[list[PanelMember], list[str]]:
    """The panel members among the attendees (named by email or by name), and the strangers."""

    def key(text: str) -> str:
        return " ".join(text.split()).casefold()

    by_key = {key(m.email): m for m in panel.members} | {key(m.name): m for m in panel.members}
    present: dict[int, PanelMember] = {}
    strangers = []
    for attendee in attendees:
        member = by_key.get(key(attendee))
        if member is None:
            strangers.append(attendee)
        else:
            present[member.id] = member
    return list(present.values()), strangers


def _check_quorum(panel: Panel, attendees: tuple[str, ...]) -> None:
    """A review is held by at least three of the panel's members, one of them independent."""
    present, strangers = _attending_members(panel, attendees)
    problems = []
    if strangers:
        problems.append(f"not members of panel {panel.id}: {', '.join(strangers)}")
    if len(present) < MINIMUM_REVIEWERS:
        missing = MINIMUM_REVIEWERS - len(present)
        absent = [m.name for m in panel.members if m not in present]
        problems.append(
            f"a review needs at least {MINIMUM_REVIEWERS} members of the panel present;"
            f" {len(present)} attended, {missing} more needed"
            + (f" (absent: {', '.join(absent)})" if absent else "")
        )
    if sum(m.independent for m in present) < MINIMUM_INDEPENDENT:
        independents = [m.name for m in panel.members if m.independent]
        problems.append(
            "a review needs a member independent of the authority present; "
            + (f"none of {', '.join(independents)} attended" if independents
               else "the panel has no independent member")
        )  # fmt: skip
    if problems:
        raise InvalidInput(
            "the review was not quorate (regs 15-16: at least 3 reviewers, one independent)",
            errors={"attendees": problems},
        )


def _check_held_after_start(session: Session, meeting: Meeting, held_at: datetime) -> None:
    """A review is held after the child's admission; an escalation meeting after its call."""
    placement = session.get(Placement, meeting.placement_id) if meeting.placement_id else None
    if meeting.kind == "review" and placement is not None and held_at < placement.admitted_at:
        raise InvalidInput("a review cannot be held before the child's admission",
                           errors={"held_at": ["before the placement's admitted_at"]})  # fmt: skip
    if meeting.kind == "escalation" and held_at < meeting.called_at:
        raise InvalidInput("the meeting cannot be held before it was called",
                           errors={"held_at": ["before the meeting's called_at"]})  # fmt: skip


def _set_next_review(session: Session, actor: Actor, placement_id: str, now: datetime) -> None:
    placement = session.get(Placement, placement_id)
    if placement is None or placement.status != "active":
        return
    before = placement.next_review_due
    placement.next_review_due = review_dates.next_review_due(session, placement)
    audit.record(session, actor, "placement.review", "placement", placement.id, at=now,
                 before={"next_review_due": _plain(before)},
                 after={"next_review_due": _plain(placement.next_review_due)})  # fmt: skip
