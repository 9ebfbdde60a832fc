"""The outbox delivered to a real SMTP server and a real HTTP receiver, with retries."""

from __future__ import annotations

import base64
import contextlib
import email
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Request, Response

from placements import notifications, panels, reviews
from placements.auth import SYSTEM
from placements.config import Settings
from placements.db import Sessions
from placements.models import Meeting, Notification
from tests.conftest import free_port
from tests.placements.casework import admit

SECRET = "whsec_" + base64.b64encode(b"a receiver's shared secret").decode()
CALLED = datetime(2026, 1, 30, 9, 0, tzinfo=UTC)
MEMBERS = {
    "chair.southwark@example.org",
    "councillor.southwark@example.org",
    "independent.southwark@example.org",
}


class Inbox:
    """An aiosmtpd handler keeping every message."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"


class Receiver:
    """A webhook receiver on pytest-httpserver that keeps each delivery."""

    def __init__(self, port: int) -> None:
        self.server = HTTPServer(host="127.0.0.1", port=port)
        self.server.expect_request("/hooks", method="POST").respond_with_handler(self.receive)
        self.deliveries: list[tuple[dict[str, str], bytes]] = []

    def receive(self, request: Request) -> Response:
        self.deliveries.append((dict(request.headers), request.get_data()))
        return Response("ok", status=200)


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, Controller]]:
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    yield handler, controller
    with contextlib.suppress(AssertionError):  # "SMTP daemon not running": it was never started
        controller.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(free_port())
    yield found
    if found.server.is_running():
        found.server.stop()


def with_webhook(sessions: Sessions, url: str) -> None:
    current = panels.get_panel(sessions, SYSTEM, "review-southwark")
    spec = panels.PanelSpec(current.name, "review", authority_id="southwark",
                            members=tuple(current.members), webhook_url=url,
                            webhook_secret=SECRET)  # fmt: skip
    panels.update(sessions, SYSTEM, "review-southwark", spec, now=CALLED)


def verified(headers: dict[str, str], body: bytes) -> bool:
    """Check a Standard Webhooks signature the way a receiver would."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{headers['Webhook-Id']}.{headers['Webhook-Timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [s.partition(",")[2] for s in headers["Webhook-Signature"].split()]
    return any(hmac.compare_digest(expected, s) for s in offered)


def calendar_of(raw: bytes) -> Calendar:
    message = email.message_from_bytes(raw)
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return Calendar.from_ical(payload)


def call_a_review(sessions: Sessions, receiver: Receiver, settings: Settings) -> Meeting:
    with_webhook(sessions, f"http://127.0.0.1:{receiver.server.port}/hooks")
    admit(sessions, authority_id="southwark", admitted_at=datetime(2026, 1, 5, 10, tzinfo=UTC))
    reviews.call_reviews(sessions, settings, now=CALLED)
    with sessions.read() as session:
        return session.scalars(select(Meeting)).one()


def test_each_member_gets_one_email_with_an_invitation_and_one_signed_webhook(
    seeded: Sessions, inbox: tuple[Inbox, Controller], receiver: Receiver
) -> None:
    handler, controller = inbox
    settings = Settings(smtp_url=f"smtp://127.0.0.1:{controller.port}")
    meeting = call_a_review(seeded, receiver, settings)
    controller.start()
    receiver.server.start()
    result = notifications.deliver(seeded, settings, now=CALLED + timedelta(seconds=5))
    assert (result.sent, result.retrying, result.failed) == (6, 0, 0)
    assert sorted(to for tos, _ in handler.messages for to in tos) == sorted(MEMBERS)
    for _, raw in handler.messages:
        [event] = calendar_of(raw).walk("VEVENT")
        assert str(event["UID"]) == f"{meeting.id}@placements.example.org"
        assert event.decoded("DTSTART") == meeting.scheduled_for
    assert len(receiver.deliveries) == 3
    assert all(verified(headers, body) for headers, body in receiver.deliveries)
    bodies = [json.loads(body) for _, body in receiver.deliveries]
    assert {b["data"]["member"]["email"] for b in bodies} == MEMBERS
    assert {b["type"] for b in bodies} == {"meeting.called"}


def test_with_the_receivers_down_then_up_everything_arrives_once(
    seeded: Sessions, inbox: tuple[Inbox, Controller], receiver: Receiver
) -> None:
    handler, controller = inbox
    settings = Settings(smtp_url=f"smtp://127.0.0.1:{controller.port}")
    call_a_review(seeded, receiver, settings)
    down = notifications.deliver(seeded, settings, now=CALLED)
    assert (down.sent, down.retrying) == (0, 6)
    # The review goes overdue meanwhile: three more emails and webhooks.
    reviews.call_reviews(seeded, settings, now=datetime(2026, 2, 5, 11, tzinfo=UTC))
    controller.start()
    receiver.server.start()
    too_soon = notifications.deliver(seeded, settings, now=CALLED + timedelta(seconds=10))
    assert too_soon.sent == 0
    later = datetime(2026, 2, 5, 11, 1, tzinfo=UTC)
    up = notifications.deliver(seeded, settings, now=later)
    assert (up.sent, up.retrying, up.failed) == (12, 0, 0)
    assert notifications.deliver(seeded, settings, now=later + timedelta(hours=1)).sent == 0
    ids = [headers["Webhook-Id"] for headers, _ in receiver.deliveries]
    assert len(ids) == 6 and len(set(ids)) == 6
    with seeded.read() as session:
        webhooks = set(session.scalars(select(Notification.id).where(
            Notification.channel == "webhook")))  # fmt: skip
    assert set(ids) == webhooks
    assert len(handler.messages) == 6


def test_a_notification_still_failing_after_24_hours_is_marked_failed(
    seeded: Sessions, receiver: Receiver
) -> None:
    settings = Settings()  # no SMTP server configured, and the receiver never comes up
    call_a_review(seeded, receiver, settings)
    first = notifications.deliver(seeded, settings, now=CALLED)
    assert first.retrying == 6
    second = notifications.deliver(seeded, settings, now=CALLED + timedelta(minutes=1))
    assert second.retrying == 6
    last = notifications.deliver(seeded, settings, now=CALLED + timedelta(hours=24, minutes=1))
    assert last.failed == 6
    query = notifications.NotificationFilter(status="failed")
    failed = notifications.list_notifications(seeded, SYSTEM, query)
    assert len(failed) == 6 and all(n.attempts == 3 and n.last_error for n in failed)
    assert any("PLACEMENTS_SMTP_URL" in (n.last_error or "") for n in failed)


def test_backoff_doubles_up_to_two_hours() -> None:
    delays = [notifications.retry_delay(n) for n in (1, 2, 3, 10, 30)]
    assert delays[:3] == [timedelta(seconds=30), timedelta(minutes=1), timedelta(minutes=2)]
    assert delays[3:] == [timedelta(hours=2), timedelta(hours=2)]
