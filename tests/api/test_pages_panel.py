"""The panel member's pages: meetings by status, a meeting's agenda, the invitation, acknowledging,
and the chair's outcome form with the quorum rule stated (the use case checks it)."""

from __future__ import annotations

import html as markup
import re
from collections.abc import Callable
from datetime import time, timedelta

import pytest
from flask import Flask
from icalendar import Calendar

from api.pages.panel import clock_time, page_links
from placements import demand, meetings, reviews
from placements.auth import Actor
from placements.clock import FixedClock
from placements.config import Settings
from placements.db import Sessions
from tests.api.pages import PageClient
from tests.conftest import NOW
from tests.placements.casework import admit, open_requests

SETTINGS = Settings()
ADMIN = Actor("admin", "admin")
CHAIR = "chair.southwark@example.org"
# Southwark's review panel: Alex Example chairs, Carys Testwell is the independent member.
EVERYONE = ["chair.southwark@example.org", "councillor.southwark@example.org",
            "independent.southwark@example.org"]  # fmt: skip
HELD = {"held_day": "21", "held_month": "11", "held_year": "2026", "held_time": "8:30am",
        "recommendation": "continue", "notes": "Criteria still met."}  # fmt: skip


@pytest.fixture
def review(seeded: Sessions) -> str:
    """A review meeting called for a child Southwark placed 27 days before NOW; its id."""
    admit(seeded, authority_id="southwark", admitted_at=NOW - timedelta(days=27))
    [called] = reviews.call_reviews(seeded, SETTINGS, now=NOW).called
    return called


@pytest.fixture
def chair(signed_in: Callable[..., PageClient]) -> PageClient:
    return signed_in("panel", CHAIR, panel_id="review-southwark")


def text_of(html: str) -> str:
    """A page's words, tags dropped and spaces squeezed."""
    return " ".join(markup.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def page_text(client: PageClient, path: str, status: int = 200) -> str:
    answer = client.get(path)
    assert answer.status_code == status, answer.get_data(as_text=True)
    return text_of(answer.get_data(as_text=True))


def status_of(sessions: Sessions, meeting_id: str) -> meetings.MeetingView:
    return meetings.get_meeting(sessions, ADMIN, meeting_id)


def test_the_chair_reads_the_agenda_acknowledges_and_records_the_outcome(
    chair: PageClient, review: str, seeded: Sessions
) -> None:
    listed = page_text(chair, "/panel")
    assert "Meetings to hold" in listed and "First review" in listed
    assert f"View meeting : First review, 24 November 2026, 10:00am ({review})" in listed
    assert "No meetings are overdue." in listed and "No meetings have been held yet." in listed
    page = page_text(chair, f"/panel/meetings/{review}")
    placement = status_of(seeded, review).placement_id
    assert f"Placement {placement}" in page and "Placing authority southwark" in page
    assert "Do the criteria for keeping the child in secure accommodation still apply?" in page
    for words in ("Download invitation", "Acknowledge", "Record outcome",
                  "Carys Testwell Member Yes Not yet"):  # fmt: skip
        assert words in page, words

    acknowledged = chair.submit(f"/panel/meetings/{review}/acknowledge",
                                form_page=f"/panel/meetings/{review}")  # fmt: skip
    page = text_of(acknowledged.get_data(as_text=True))
    assert "Meeting acknowledged" in page and "You have acknowledged this meeting." in page
    assert "Alex Example (you) Chair No Yes" in page
    assert status_of(seeded, review).acknowledged_by == [CHAIR]

    form = page_text(chair, f"/panel/meetings/{review}/outcome")
    assert ("At least 3 members must attend, including at least 1 independent member "
            "(Carys Testwell).") in form  # fmt: skip
    assert "Carys Testwell (independent)" in form and "Alex Example Chair" in form
    held = chair.submit(f"/panel/meetings/{review}/outcome", {**HELD, "attendees": EVERYONE})
    assert held.status_code == 200 and held.request.path == f"/panel/meetings/{review}"
    page = text_of(held.get_data(as_text=True))
    assert "Outcome recorded" in page and "Held 21 November 2026, 8:30am" in page
    assert "Alex Example Bindi Sample Carys Testwell" in page
    assert "Recommendation Continue the placement" in page and "Next review due" in page
    assert "Record outcome" not in page and f"/panel/meetings/{review}/acknowledge" not in (
        held.get_data(as_text=True))  # fmt: skip
    assert status_of(seeded, review).outcome is not None
    listed = page_text(chair, "/panel")
    assert "Held meetings, latest first" in listed
    assert "No meetings are waiting to be held." in listed
    # Held once: the form now says so.
    assert chair.get(f"/panel/meetings/{review}/outcome").status_code == 409


def test_the_invitation_downloads_as_a_calendar_file(chair: PageClient, review: str) -> None:
    answer = chair.get(f"/panel/meetings/{review}/invitation.ics")
    assert answer.status_code == 200 and answer.mimetype == "text/calendar"
    assert answer.headers["Content-Disposition"] == f'attachment; filename="{review}.ics"'
    [event] = Calendar.from_ical(answer.data).walk("VEVENT")
    assert str(event["UID"]).startswith(review)


def test_a_meeting_without_quorum_is_refused_with_the_reason_at_the_attendance(
    chair: PageClient, review: str, seeded: Sessions
) -> None:
    two = chair.submit(f"/panel/meetings/{review}/outcome", {**HELD, "attendees": EVERYONE[:2]})
    assert two.status_code == 422
    html = two.get_data(as_text=True)
    assert "There is a problem" in html and 'href="#attendees"' in html
    assert "A review needs at least 3 members of the panel present; 2 attended, 1 more needed " \
        "(absent: Carys Testwell)" in text_of(html)  # fmt: skip
    assert "A review needs a member independent of the authority present" in text_of(html)
    assert 'value="chair.southwark@example.org" checked' in html  # the answers are kept
    assert status_of(seeded, review).status == "called"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"held_day": "", "held_month": "", "held_year": ""},
            "held_day",
            "Enter the date the meeting was held",
        ),
        ({"held_month": ""}, "held_day", "Date held must include a month"),
        ({"held_day": "31", "held_month": "2"}, "held_day", "Date held must be a real date"),
        ({"held_year": "26"}, "held_day", "Date held must be a real date"),
        ({"held_time": ""}, "held_time", "Enter the time the meeting was held"),
        ({"held_time": "25:00"}, "held_time", "Enter the time in the 24-hour clock"),
        ({"held_time": "11:00"}, "held_day", "The meeting cannot be held in the future"),
        ({"held_month": "10"}, "held_day", "A review cannot be held before the child's admission"),
        ({"recommendation": ""}, "recommendation", "Select what the panel recommends"),
        ({"recommendation": "maybe"}, "recommendation", "Select what the panel recommends"),
        ({"attendees": []}, "attendees", "Select who attended the meeting"),
        (
            {"attendees": [*EVERYONE, "stranger@example.org"]},
            "attendees",
            "Not members of panel review-southwark: stranger@example.org",
        ),
        ({"notes": "x" * 5001}, "notes", "Notes must be 5000 characters or fewer"),
    ],
)
def test_each_problem_with_the_outcome_is_shown_at_its_field(
    chair: PageClient, review: str, seeded: Sessions, change: dict[str, object], field: str,
    message: str,
) -> None:  # fmt: skip
    answer = chair.submit(f"/panel/meetings/{review}/outcome",
                          {**HELD, "attendees": EVERYONE, **change})  # fmt: skip
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert f'href="#{field}"' in html and html.count(f'id="{field}"') == 1
    assert message in text_of(html).replace("\u2019", "'")
    assert status_of(seeded, review).status == "called"


def test_only_the_chair_records_an_outcome(
    signed_in: Callable[..., PageClient], review: str, seeded: Sessions
) -> None:
    member = signed_in("panel", "councillor.southwark@example.org", panel_id="review-southwark")
    page = page_text(member, f"/panel/meetings/{review}")
    assert "Acknowledge" in page and "Record outcome" not in page
    assert member.get(f"/panel/meetings/{review}/outcome").status_code == 403
    answer = member.submit(f"/panel/meetings/{review}/outcome", {**HELD, "attendees": EVERYONE},
                           form_page=f"/panel/meetings/{review}")  # fmt: skip
    assert answer.status_code == 403
    assert status_of(seeded, review).status == "called"


def test_another_panels_meeting_is_not_found_and_nothing_changes(
    signed_in: Callable[..., PageClient], review: str, seeded: Sessions
) -> None:
    surrey = signed_in("panel", "chair.surrey@example.org", panel_id="review-surrey")
    assert review not in surrey.get("/panel").get_data(as_text=True)
    for path in (f"/panel/meetings/{review}", f"/panel/meetings/{review}/invitation.ics",
                 f"/panel/meetings/{review}/outcome", "/panel/meetings/MTG-NOSUCH"):  # fmt: skip
        assert surrey.get(path).status_code == 404, path
    assert "Page not found" in surrey.get(f"/panel/meetings/{review}").get_data(as_text=True)
    for path, body in (
        (f"/panel/meetings/{review}/acknowledge", {}),
        (f"/panel/meetings/{review}/outcome", {**HELD, "attendees": EVERYONE}),
    ):
        answer = surrey.submit(path, body, form_page="/panel")  # fmt: skip
        assert answer.status_code == 404, path
    after = status_of(seeded, review)
    assert after.status == "called" and after.acknowledged_by == []


def test_forms_without_the_csrf_token_are_refused(chair: PageClient, review: str) -> None:
    assert chair.post(f"/panel/meetings/{review}/acknowledge").status_code == 400
    answer = chair.post(f"/panel/meetings/{review}/outcome", {**HELD, "attendees": EVERYONE})
    assert answer.status_code == 400


def test_a_review_past_its_due_date_is_listed_as_overdue(
    signed_in: Callable[..., PageClient], review: str, seeded: Sessions, clock: FixedClock
) -> None:
    due = status_of(seeded, review).due_by
    assert due is not None
    clock.set(due + timedelta(minutes=5))  # not yet flagged by the job: overdue all the same
    chair = signed_in("panel", CHAIR, panel_id="review-southwark")
    listed = page_text(chair, "/panel")
    assert "Overdue meetings" in listed and "No meetings are waiting to be held." in listed
    assert "First review" in listed.split("Overdue meetings", 1)[1]
    reviews.call_reviews(seeded, SETTINGS, now=due + timedelta(minutes=20))
    assert status_of(seeded, review).status == "overdue"
    clock.set(due + timedelta(minutes=20))
    page = page_text(chair, f"/panel/meetings/{review}")
    assert "Status Overdue" in page and "Record outcome" in page


def test_an_escalation_meeting_shows_the_rules_breached_and_no_quorum(
    signed_in: Callable[..., PageClient], seeded: Sessions, clock: FixedClock
) -> None:
    open_requests(seeded, 26, at=NOW)
    called = demand.check(seeded, SETTINGS, now=NOW + timedelta(hours=1)).meeting_id
    assert called is not None
    clock.set(NOW + timedelta(hours=2))
    chair = signed_in("panel", "chair.escalation@example.org", panel_id="escalation-national")
    listed = page_text(chair, "/panel")
    assert "Escalation (amber)" in listed
    page = page_text(chair, f"/panel/meetings/{called}")
    assert "Rules breached" in page and "Open welfare requests Amber 26 25" in page
    assert "Requests concerned (26)" in page and "Open welfare (section 25) requests 26" in page
    form = page_text(chair, f"/panel/meetings/{called}/outcome")
    assert "There is no quorum for an escalation meeting" in form
    assert "Continue End Alternative accommodation" in form
    held = chair.submit(f"/panel/meetings/{called}/outcome",
                        {**HELD, "held_time": "10:30", "recommendation": "continue",
                         "attendees": ["chair.escalation@example.org"]})  # fmt: skip
    assert held.status_code == 200 and "Outcome recorded" in held.get_data(as_text=True)
    assert status_of(seeded, called).status == "held"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10:00", time(10)), ("14:30", time(14, 30)), ("2.30pm", time(14, 30)), ("10am", time(10)),
     ("12am", time(0)), ("12 PM", time(12)), ("9", time(9)), ("0:05", time(0, 5)),
     ("13pm", None), ("24:00", None), ("10:60", None), ("noon", None), ("", None)],
)  # fmt: skip
def test_times_are_read_in_the_24_hour_clock_or_with_am_and_pm(
    text: str, expected: time | None
) -> None:
    assert clock_time(text) == expected


def test_held_meetings_are_listed_latest_first(
    chair: PageClient, seeded: Sessions, clock: FixedClock
) -> None:
    for days in (27, 26):
        admit(seeded, authority_id="southwark", admitted_at=NOW - timedelta(days=days))
    called = reviews.call_reviews(seeded, SETTINGS, now=NOW).called
    member = Actor(CHAIR, "panel", panel_id="review-southwark")
    held = meetings.Outcome(NOW - timedelta(hours=1), tuple(EVERYONE), "continue")
    for meeting_id in called:
        meetings.record_outcome(seeded, member, meeting_id, held, settings=SETTINGS, now=NOW)
    listed = chair.get("/panel").get_data(as_text=True)
    starts = sorted((status_of(seeded, m).scheduled_for, m) for m in called)
    assert listed.index(starts[1][1]) < listed.index(starts[0][1])
    assert "Held meetings, latest first" in text_of(listed)


def test_pages_of_held_meetings_link_the_first_the_last_and_those_beside(app: Flask) -> None:
    with app.test_request_context("/panel"):
        links = page_links(5, 9)
    assert [link.get("ellipsis") or link["number"] for link in links] == [1, True, 4, 5, 6, True, 9]
    assert [link["number"] for link in links if link.get("current")] == [5]
    assert links[0]["href"] == "/panel?page=1"
