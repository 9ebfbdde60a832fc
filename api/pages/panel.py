"""Pages of a panel member (role 'panel'): the panel's meetings, each with its agenda, the
invitation, acknowledgements and, for the chair, the outcome with who attended.

Every page asks the same use cases as the API (api/meetings.py): another panel's meeting is not
found (404), as an unknown one is, and only the panel's chair records an outcome (403 for others).
The quorum rule the outcome form states is built from the constants the use case checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length

from api.context import now, service
from api.meetings import RECOMMENDATIONS
from api.pages import errors, guard
from api.pages.filters import UK, plain, uk_time
from api.pages.guard import for_roles
from placements import meetings, panels
from placements.errors import Forbidden, InvalidInput, InvalidTransition
from placements.meetings import MeetingFilter, MeetingView
from placements.paging import Page
from placements.panels import MemberSpec

blp = Blueprint("panel", __name__, url_prefix="/panel")
# The role's service navigation: (text, endpoint).
NAVIGATION = [("Meetings", "pages.panel.dashboard")]

HELD_PAGE = 20
OPEN_LIMIT = 200  # meetings still to hold: a panel has a handful at a time
# A review's recommendations in words; an escalation meeting's are the codes in words.
REVIEW_RECOMMENDATIONS = {
    "continue": "Continue the placement",
    "end": "End the placement",
    "alternative_accommodation": "Move the child to other accommodation",
}
TIME = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?\s*([ap]\.?m\.?)?$", re.IGNORECASE)
TIME_FORMAT = "Enter the time in the 24-hour clock or with am or pm, like 10:00 or 2:30pm"


def sentence(text: str) -> str:
    """A code in words with a capital: 'end_of_order' -> 'End of order'."""
    words = plain(text)
    return words[:1].upper() + words[1:]


def capital(message: str) -> str:
    """A service's message as a sentence: its first letter a capital."""
    return message[:1].upper() + message[1:]


class ButtonForm(FlaskForm):  # type: ignore[misc]
    """A button and the CSRF token (acknowledging a meeting)."""


class OutcomeForm(FlaskForm):  # type: ignore[misc]
    """What the chair records: when the meeting was held, who came, and the recommendation."""

    held_day = StringField("Day")
    held_month = StringField("Month")
    held_year = StringField("Year")
    held_time = StringField("Time held")
    attendees = SelectMultipleField(
        "Who attended",
        choices=[],
        validate_choice=False,
        validators=[DataRequired("Select who attended the meeting")],
    )
    recommendation = RadioField(
        "What does the panel recommend?",
        choices=[],
        validate_choice=False,
        validators=[
            InputRequired("Select what the panel recommends"),
            AnyOf(RECOMMENDATIONS, message="Select what the panel recommends"),
        ],
    )
    notes = TextAreaField(
        "Notes (optional)",
        validators=[Length(max=5000, message="Notes must be 5000 characters or fewer")],
    )


@dataclass(frozen=True)
class Member:
    """A panel member as the pages show them."""

    name: str
    email: str
    chair: bool
    independent: bool


# Reading what the pages show.


def my_email() -> str:
    """The signed-in member's address, as the panel lists its members."""
    return panels.member_email_of(guard.actor())


def panel_members(meeting: MeetingView) -> list[Member]:
    """The members of the meeting's panel."""
    found = panels.get_panel(service().sessions, guard.actor(), meeting.panel_id)
    return [member(m) for m in found.members]


def member(spec: MemberSpec) -> Member:
    """One member."""
    return Member(spec.name, spec.email.lower(), spec.role == "chair", spec.independent)


def is_chair(members: list[Member]) -> bool:
    """Whether the signed-in member chairs the panel."""
    return any(m.chair and m.email == my_email() for m in members)


def is_open(meeting: MeetingView) -> bool:
    """Whether the meeting is still to be held."""
    return meeting.status in meetings.OPEN_STATUSES


def is_overdue(meeting: MeetingView) -> bool:
    """Past its due date with no outcome (flagged by the service, or not yet flagged)."""
    late = meeting.due_by is not None and meeting.due_by < now()
    return meeting.status == "overdue" or (meeting.status == "called" and late)


def soonest(meeting: MeetingView) -> tuple[datetime, str]:
    """The order meetings are listed in: soonest first."""
    return meeting.scheduled_for, meeting.id


def listed(status: str, *, page: int = 1, page_size: int = OPEN_LIMIT,
           newest_first: bool = False) -> Page[MeetingView]:  # fmt: skip
    """A page of the panel's meetings in one status, soonest (or latest) first."""
    query = MeetingFilter(status=status, page=page, page_size=page_size,
                          newest_first=newest_first)  # fmt: skip
    return meetings.list_meetings(service().sessions, guard.actor(), query)


def attended(meeting: MeetingView, members: list[Member]) -> list[str]:
    """The names of who attended (an outcome names them by address or by name)."""
    if meeting.outcome is None:
        return []
    by_key = {m.email: m.name for m in members} | {m.name.casefold(): m.name for m in members}
    return [by_key.get(a.strip().casefold(), a) for a in meeting.outcome.attendees]


def agenda_of(meeting: MeetingView) -> dict[str, Any]:
    """The agenda with its times read as times."""
    agenda = dict(meeting.agenda)
    for key in ("admitted_at", "last_review_at", "due_by"):
        if isinstance(agenda.get(key), str):
            agenda[key] = datetime.fromisoformat(agenda[key])
    snapshot = agenda.get("snapshot")
    if isinstance(snapshot, dict) and isinstance(snapshot.get("taken_at"), str):
        agenda["snapshot"] = {**snapshot, "taken_at": datetime.fromisoformat(snapshot["taken_at"])}
    return agenda


def recommendations(meeting: MeetingView) -> dict[str, str]:
    """What the panel may recommend (the API's values), in words for the meeting's kind."""
    words = REVIEW_RECOMMENDATIONS if meeting.kind == "review" else {}
    return {code: words.get(code, sentence(code)) for code in RECOMMENDATIONS}


def quorum_rule(meeting: MeetingView, members: list[Member]) -> str:
    """The rule the use case checks for the meeting's attendance, in words."""
    if meeting.kind != "review":
        return (
            "There is no quorum for an escalation meeting: select everyone from the panel "
            "who attended."
        )
    needed = meetings.MINIMUM_INDEPENDENT
    independents = [m.name for m in members if m.independent]
    rule = (
        f"At least {panels.MINIMUM_REVIEWERS} members must attend, including at least "
        f"{needed} independent member{'' if needed == 1 else 's'}"
    )
    if not independents:
        return f"{rule}. This panel has no independent member, so it cannot hold a review."
    return f"{rule} ({' or '.join(independents)})."


# The pages.


@blp.get("")
@for_roles("panel")
def dashboard() -> Any:
    """The panel's meetings: to hold (called), overdue, held and cancelled."""
    page = min(max(request.args.get("page", 1, type=int), 1), 100_000)
    to_hold = [*listed("overdue").items, *listed("called").items]
    held = listed("held", page=page, page_size=HELD_PAGE, newest_first=True)
    last = max((held.total - 1) // HELD_PAGE + 1, 1)
    return render_template(
        "pages/panel/dashboard.html",
        overdue=sorted((m for m in to_hold if is_overdue(m)), key=soonest),
        called=[m for m in to_hold if not is_overdue(m)],
        held=held,
        last_page=last,
        page_links=page_links(held.page, last),
        cancelled=listed("cancelled", page_size=HELD_PAGE, newest_first=True),
        panel=panels.get_panel(service().sessions, guard.actor(), guard.actor().panel_id or ""),
        me=my_email(),
    )


def page_links(current: int, last: int) -> list[dict[str, Any]]:
    """The numbered links of GOV.UK pagination: the first, the last and those beside this one."""
    shown = sorted({1, last, *range(max(current - 1, 1), min(current + 1, last) + 1)})
    links: list[dict[str, Any]] = []
    for number in shown:
        if links and number > links[-1]["number"] + 1:
            links.append({"ellipsis": True, "number": number - 1})
        links.append({"number": number, "current": number == current,
                      "href": url_for(".dashboard", page=number)})  # fmt: skip
    return links


@blp.get("/meetings/<meeting_id>")
@for_roles("panel")
def meeting(meeting_id: str) -> Any:
    """A meeting: its agenda, its members and who acknowledged, the invitation, the outcome."""
    shown = meetings.get_meeting(service().sessions, guard.actor(), meeting_id)
    members = panel_members(shown)
    return render_template(
        "pages/panel/meeting.html",
        meeting=shown,
        agenda=agenda_of(shown),
        members=members,
        attended=attended(shown, members),
        acknowledged={e.lower() for e in shown.acknowledged_by},
        me=my_email(),
        chair=is_chair(members),
        open=is_open(shown),
        overdue=is_overdue(shown),
        recommendation_words=recommendations(shown),
        form=ButtonForm(),
    )


@blp.get("/meetings/<meeting_id>/invitation.ics")
@for_roles("panel")
def invitation(meeting_id: str) -> Any:
    """The meeting's calendar invitation, to download."""
    invite = meetings.invitation(
        service().sessions, guard.actor(), meeting_id, settings=service().settings
    )
    return Response(
        invite.content,
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="{invite.meeting_id}.ics"'},
    )


@blp.post("/meetings/<meeting_id>/acknowledge")
@for_roles("panel")
def acknowledge(meeting_id: str) -> Any:
    """Acknowledge the meeting's call (a member of its panel)."""
    meetings.acknowledge(service().sessions, guard.actor(), meeting_id, now=now())
    flash("Meeting acknowledged", "success")
    return redirect(url_for(".meeting", meeting_id=meeting_id))


@blp.route("/meetings/<meeting_id>/outcome", methods=["GET", "POST"])
@for_roles("panel")
def outcome(meeting_id: str) -> Any:
    """Record the meeting as held, who attended and the recommendation (the panel's chair)."""
    shown = meetings.get_meeting(service().sessions, guard.actor(), meeting_id)
    members = panel_members(shown)
    if not is_chair(members):
        raise Forbidden("Only the panel's chair can record the outcome of a meeting.")
    if not is_open(shown):
        return not_open(shown)
    form = OutcomeForm(data=starting_answers(shown)) if request.method == "GET" else OutcomeForm()
    form.attendees.choices = [(m.email, m.name) for m in members]
    form.recommendation.choices = list(recommendations(shown).items())
    if request.method == "GET":
        return show_outcome_form(form, shown, members)
    valid = form.validate()
    moment = held_at(form)
    if not valid or moment is None:
        return show_outcome_form(form, shown, members, status=422)
    answer = meetings.Outcome(
        held_at=moment,
        attendees=tuple(form.attendees.data),
        recommendation=form.recommendation.data,
        text=(form.notes.data or "").strip(),
    )
    try:
        meetings.record_outcome(service().sessions, guard.actor(), meeting_id, answer,
                                settings=service().settings, now=now())  # fmt: skip
    except InvalidInput as error:
        place_errors(form, error)
        return show_outcome_form(form, shown, members, status=422)
    except InvalidTransition:
        return not_open(meetings.get_meeting(service().sessions, guard.actor(), meeting_id))
    flash("Outcome recorded", "success")
    return redirect(url_for(".meeting", meeting_id=meeting_id))


def not_open(meeting: MeetingView) -> Any:
    """The outcome of a held or cancelled meeting cannot be recorded (again)."""
    if meeting.outcome is not None:
        held = uk_time(meeting.outcome.held_at)
        return errors.page(409, f"The outcome of this meeting was recorded already: held {held}.")
    return errors.page(409, f"This meeting was {plain(meeting.status)}: it has no outcome.")


def starting_answers(meeting: MeetingView) -> dict[str, Any]:
    """The meeting's planned day and time, when that has passed; nothing otherwise."""
    if meeting.scheduled_for > now():
        return {}
    local = meeting.scheduled_for.astimezone(UK)
    return {"held_day": str(local.day), "held_month": str(local.month),
            "held_year": str(local.year), "held_time": f"{local:%H:%M}"}  # fmt: skip


def show_outcome_form(form: OutcomeForm, meeting: MeetingView, members: list[Member], *,
                      status: int = 200) -> Any:  # fmt: skip
    """The outcome form with the quorum rule stated."""
    return render_template(
        "pages/panel/outcome.html",
        form=form,
        meeting=meeting,
        members=members,
        quorum=quorum_rule(meeting, members),
        chosen=set(form.attendees.data or []),
    ), status


def held_at(form: OutcomeForm) -> datetime | None:
    """The day and time the meeting was held (UK time), or None with the errors at the fields."""
    day = read_date(form)
    clock = read_time(form)
    if day is None or clock is None:
        return None
    return datetime.combine(day, clock, tzinfo=UK)


def read_date(form: OutcomeForm) -> date | None:
    """The date held, or None with an error at the day (the summary links to it)."""
    parts = {
        "day": (form.held_day.data or "").strip(),
        "month": (form.held_month.data or "").strip(),
        "year": (form.held_year.data or "").strip(),
    }
    missing = [name for name, text in parts.items() if not text]
    found = None
    if len(missing) == 3:
        problem = "Enter the date the meeting was held"
    elif missing:
        problem = f"Date held must include a {' and a '.join(missing)}"
    else:
        problem = "Date held must be a real date, like 27 3 2026"
        if all(text.isdigit() for text in parts.values()) and len(parts["year"]) == 4:
            try:
                found = date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
            except ValueError:
                found = None
    if found is None:
        add_error(form, "held_day", problem)
    return found


def read_time(form: OutcomeForm) -> time | None:
    """The time held, in the 24-hour clock or with am or pm, or None with an error."""
    text = (form.held_time.data or "").strip()
    found = clock_time(text)
    if found is None:
        add_error(form, "held_time", TIME_FORMAT if text else "Enter the time the meeting was held")
    return found


def clock_time(text: str) -> time | None:
    """'14:30', '2.30pm', '10am' or '10' as a time of day; None for anything else."""
    found = TIME.match(text)
    if found is None:
        return None
    hour, minute = int(found.group(1)), int(found.group(2) or 0)
    half = (found.group(3) or "").lower().replace(".", "")
    if half and not 1 <= hour <= 12:
        return None
    if half:
        hour = hour % 12 + (12 if half == "pm" else 0)
    return time(hour, minute) if hour <= 23 and minute <= 59 else None


def place_errors(form: OutcomeForm, error: InvalidInput) -> None:
    """Put the use case's errors at the form's fields, in words a person reads."""
    for name, messages in (error.errors or {"held_day": [error.message]}).items():
        if name == "held_at":  # its field message is terse; the error's own says it whole
            add_error(form, "held_day", capital(error.message))
            continue
        field = name if name in ("attendees", "recommendation", "notes") else "held_day"
        for message in messages if isinstance(messages, list) else [messages]:
            add_error(form, field, capital(str(message)))


def add_error(form: FlaskForm, name: str, message: str) -> None:
    """One more error at a field (the error summary links to it)."""
    field = form[name]
    field.errors = [*field.errors, message]
