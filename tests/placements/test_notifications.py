"""The outbox delivered to a real SMTP server and a real HTTP receiver, with retries."""

from __future__ import annotations

import base64
import contextlib
import email
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
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


ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


class RawReceiver:
    """A webhook receiver on a raw socket: answers, answers slowly, or trickles an answer forever.

    `trickle` sends a status line and then one byte every 0.2 s, so that no socket timeout ever
    fires: only a deadline on the whole send ends it.
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(connection,), daemon=True).start()

    def serve(self, connection: socket.socket) -> None:
        with connection:
            data = b""
            while b"\r\n\r\n" not in data:
                data += connection.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode().split("\r\n")[1:]
            headers = {
                k.strip().title(): v.strip() for k, _, v in (h.partition(":") for h in lines)
            }
            while len(body) < int(headers.get("Content-Length", 0)):
                body += connection.recv(65536)
            if self.mode == "trickle":
                connection.sendall(b"HTTP/1.1 200 OK\r\n")
                with contextlib.suppress(OSError):
                    while not self.stopped.wait(0.2):
                        connection.sendall(b"X")
                return
            if self.mode == "slow":
                time.sleep(1.5)
            self.deliveries.append((headers, body))
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            )

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()


def call_a_review_with(sessions: Sessions, url: str, settings: Settings) -> None:
    with_webhook(sessions, url)
    admit(sessions, authority_id="southwark", admitted_at=datetime(2026, 1, 5, 10, tzinfo=UTC))
    reviews.call_reviews(sessions, settings, now=CALLED)


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def test_a_hung_webhook_receiver_delays_no_email_and_its_webhooks_are_retried_later(
    seeded: Sessions, inbox: tuple[Inbox, Controller]
) -> None:
    handler, controller = inbox
    controller.start()
    receiver = RawReceiver("trickle")
    settings = Settings(smtp_url=f"smtp://127.0.0.1:{controller.port}",
                        delivery_timeout_seconds=5)  # fmt: skip
    try:
        call_a_review_with(seeded, f"http://127.0.0.1:{receiver.port}/hooks", settings)
        results: list[notifications.Delivery] = []
        run = threading.Thread(
            target=lambda: results.append(notifications.deliver(seeded, settings, now=CALLED))
        )
        run.start()
        # Every email of the batch is in while the first webhook still hangs in its deadline.
        assert wait_for(lambda: len(handler.messages) == 3, 20) and run.is_alive()
        run.join(60)
        assert not run.is_alive(), "a send outlived its deadline"
        [result] = results
        assert (result.sent, result.retrying, result.failed) == (3, 3, 0)
        with seeded.read() as session:
            hooks = session.scalars(
                select(Notification).where(Notification.channel == "webhook")
            ).all()
            errors = sorted(h.last_error or "" for h in hooks)
        assert errors[0] == "no answer within the 5 s deadline"
        assert all(e.startswith("not tried: webhook 127.0.0.1:") for e in errors[1:]), errors
        assert all(h.status == "pending" and h.attempts == 1 for h in hooks)
        receiver.mode = "answer"
        later = notifications.deliver(seeded, settings, now=CALLED + timedelta(minutes=1))
        assert (later.sent, later.retrying) == (3, 0)
        assert {h["Webhook-Id"] for h, _ in receiver.deliveries} == {h.id for h in hooks}
        assert all(verified(headers, body) for headers, body in receiver.deliveries)
        assert len(handler.messages) == 3
    finally:
        receiver.close()


def test_a_webhook_is_stamped_and_signed_at_the_moment_it_is_sent(seeded: Sessions) -> None:
    receiver = RawReceiver("slow")  # each answer takes 1.5 s
    try:
        call_a_review_with(seeded, f"http://127.0.0.1:{receiver.port}/hooks", Settings())
        notifications.deliver(seeded, Settings(), now=CALLED)
        stamps = [int(headers["Webhook-Timestamp"]) for headers, _ in receiver.deliveries]
        assert len(stamps) == 3 and all(verified(h, b) for h, b in receiver.deliveries)
        start = int(CALLED.timestamp())
        assert stamps[0] >= start and stamps[1] >= stamps[0] + 1 and stamps[2] >= start + 3
    finally:
        receiver.close()


def test_a_batch_starts_no_send_that_could_end_after_its_claim(
    seeded: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notifications, "CLAIM", timedelta(seconds=4))
    receiver = RawReceiver("slow")  # the first send ends after 1.5 s; a second could take 3 more
    settings = Settings(delivery_timeout_seconds=3)
    try:
        call_a_review_with(seeded, f"http://127.0.0.1:{receiver.port}/hooks", settings)
        result = notifications.deliver(seeded, settings, now=CALLED)
        # Emails fail at once (no SMTP server), one webhook goes, two go back to the outbox.
        assert (result.sent, result.retrying, result.deferred) == (1, 3, 2)
        with seeded.read() as session:
            deferred = session.scalars(
                select(Notification).where(
                    Notification.channel == "webhook", Notification.status == "pending"
                )
            ).all()
        assert [(n.attempts, n.next_attempt_at) for n in deferred] == [(0, CALLED)] * 2
    finally:
        receiver.close()


class FirstRefusal(Inbox):
    """An SMTP server that refuses each message the first time (451) and takes it the second."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        recipients = list(envelope.rcpt_tos)
        if not any(recipients == tos for tos, _ in self.messages):
            self.refused.append(envelope.content)
            self.messages.append((recipients, b""))
            return "451 try again later"
        self.messages.append((recipients, envelope.content))
        return "250 Message accepted"


def test_an_email_keeps_its_message_id_on_a_retry(seeded: Sessions) -> None:
    handler = FirstRefusal()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        settings = Settings(smtp_url=f"smtp://127.0.0.1:{controller.port}")
        call_a_review_with(seeded, "http://127.0.0.1:9/hooks", settings)
        first = notifications.deliver(seeded, settings, now=CALLED)
        second = notifications.deliver(seeded, settings, now=CALLED + timedelta(minutes=1))
    finally:
        controller.stop()
    assert first.sent == 0 and second.sent == 3
    with seeded.read() as session:
        emails = set(session.scalars(select(Notification.id).where(
            Notification.channel == "email")))  # fmt: skip
    refused = [email.message_from_bytes(raw)["Message-ID"] for raw in handler.refused]
    accepted = [email.message_from_bytes(raw)["Message-ID"] for _, raw in handler.messages if raw]
    assert sorted(refused) == sorted(accepted) == sorted(f"<{i}@placements.example.org>"
                                                         for i in emails)  # fmt: skip
