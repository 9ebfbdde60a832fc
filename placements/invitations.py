"""What members receive about a meeting: an iCalendar invitation, an email text, a webhook body."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from icalendar import Calendar, Event, vCalAddress, vText

from placements.models import Meeting, Panel, PanelMember
from placements.panels import members_of, sitting_problems

MEETING_LENGTH = timedelta(hours=1)
UID_DOMAIN = "placements.example.org"
SUBJECTS = {
    "meeting.called": "Meeting called",
    "meeting.updated": "Meeting changed",
    "meeting.overdue": "Review overdue",
    "meeting.cancelled": "Meeting cancelled",
    "meeting.held": "Meeting outcome recorded",
}


def uid_of(meeting: Meeting) -> str:
    """The invitation's UID: stable, so that a changed invitation replaces the earlier one."""
    return f"{meeting.id}@{UID_DOMAIN}"


def meeting_facts(meeting: Meeting, panel: Panel) -> dict[str, Any]:
    """A meeting as members see it in notifications (JSON-ready)."""
    problems = sitting_problems(panel.kind, members_of(panel))
    return {
        "id": meeting.id,
        "kind": meeting.kind,
        "panel_id": panel.id,
        "panel_name": panel.name,
        "status": meeting.status,
        "priority": meeting.priority,
        "due_by": meeting.due_by.isoformat() if meeting.due_by else None,
        "scheduled_for": meeting.scheduled_for.isoformat(),
        "can_sit": not problems,
        "cannot_sit_reasons": problems,
        "request_ids": list(meeting.request_ids),
        "sequence": meeting.sequence,
    }


def invitation(meeting: Meeting, panel: Panel, *, organizer: str) -> bytes:
    """The meeting as an iCalendar invitation (METHOD:CANCEL once it is cancelled)."""
    cancelled = meeting.status == "cancelled"
    calendar = Calendar()
    calendar.add("prodid", "-//placements//secure accommodation panels//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    event = Event()
    event.add("uid", uid_of(meeting))
    event.add("sequence", meeting.sequence)
    event.add("dtstamp", meeting.updated_at)
    event.add("dtstart", meeting.scheduled_for)
    event.add("dtend", meeting.scheduled_for + MEETING_LENGTH)
    event.add("summary", summary_of(meeting, panel))
    event.add("description", description_of(meeting, panel))
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if meeting.priority == "red":
        event.add("priority", 1)
    owner = vCalAddress(f"mailto:{organizer}")
    owner.params["cn"] = vText("Secure accommodation placements")
    event["organizer"] = owner
    for member in panel.members:
        event.add("attendee", _attendee(member), encode=False)
    calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data


def _attendee(member: PanelMember) -> vCalAddress:
    address = vCalAddress(f"mailto:{member.email}")
    address.params["cn"] = vText(member.name)
    address.params["role"] = vText("CHAIR" if member.role == "chair" else "REQ-PARTICIPANT")
    address.params["rsvp"] = vText("TRUE")
    return address


def summary_of(meeting: Meeting, panel: Panel) -> str:
    """A one-line title of the meeting."""
    if meeting.kind == "review":
        return f"Secure accommodation review: {panel.name} (due {_day(meeting.due_by)})"
    return f"Escalation meeting ({meeting.priority or 'amber'}): {panel.name}"


def description_of(meeting: Meeting, panel: Panel) -> str:
    """The meeting in plain text: when, why, whether the panel can sit, the agenda."""
    facts = meeting_facts(meeting, panel)
    lines = [
        summary_of(meeting, panel),
        f"Status: {meeting.status}",
        f"Scheduled for: {meeting.scheduled_for:%Y-%m-%d %H:%M} UTC",
    ]
    if meeting.due_by:
        lines.append(f"Due by: {meeting.due_by:%Y-%m-%d %H:%M} UTC")
    if not facts["can_sit"]:
        lines.append("This panel cannot lawfully sit: " + "; ".join(facts["cannot_sit_reasons"]))
    if meeting.request_ids:
        lines.append("Requests concerned: " + ", ".join(meeting.request_ids))
    for rule in meeting.agenda.get("rules", []):
        lines.append(f"Rule breached ({rule['level']}): {rule['description']} = {rule['value']}")
    return "\n".join(lines)


def email_text(meeting: Meeting, panel: Panel, member: PanelMember, event: str) -> str:
    """The plain-text body of a member's email."""
    return (
        f"Dear {member.name},\n\n{SUBJECTS[event]}.\n\n{description_of(meeting, panel)}\n\n"
        f"The invitation is attached (meeting {meeting.id}).\n"
    )


def webhook_body(meeting: Meeting, panel: Panel, member: PanelMember, event: str,
                 now: datetime) -> dict[str, Any]:  # fmt: skip
    """The JSON payload of a webhook, in the Standard Webhooks shape (type, timestamp, data)."""
    return {
        "type": event,
        "timestamp": now.isoformat(),
        "data": {
            "meeting": {**meeting_facts(meeting, panel), "agenda": meeting.agenda},
            "member": {"name": member.name, "email": member.email, "role": member.role},
        },
    }


def _day(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d}" if moment else "-"
