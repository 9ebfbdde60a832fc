"""The outbox: notifications written with each meeting change, delivered by email and webhook."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import smtplib
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from placements import audit, invitations
from placements.auth import SYSTEM, Actor
from placements.config import Settings
from placements.db import Sessions
from placements.ids import new_hex
from placements.models import Meeting, Notification, Panel
from placements.panels import signing_key

FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=2)
GIVE_UP_AFTER = timedelta(hours=24)
# A claimed notification is not tried again by anyone else for this long.
CLAIM = timedelta(minutes=5)
BATCH = 200
TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class NotificationView:
    """A notification as admins see it in the outbox."""

    id: str
    meeting_id: str
    event: str
    channel: str
    member_email: str
    recipient: str
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class NotificationFilter:
    """Which notifications to list."""

    status: str | None = None
    channel: str | None = None
    meeting_id: str | None = None
    page: int = 1
    page_size: int = 50


@dataclass(frozen=True)
class Delivery:
    """What one run of the notify job did."""

    sent: int
    retrying: int
    failed: int


def _view(row: Notification) -> NotificationView:
    return NotificationView(
        row.id, row.meeting_id, row.event, row.channel, row.member_email, row.recipient,
        row.status, row.attempts, row.next_attempt_at, row.created_at, row.sent_at,
        row.last_error,
    )  # fmt: skip


def enqueue(session: Session, meeting: Meeting, panel: Panel, event: str, *, organizer: str,
            now: datetime) -> int:  # fmt: skip
    """Write one notification per member and channel for this version of the meeting."""
    ics = invitations.invitation(meeting, panel, organizer=organizer).decode()
    subject = f"{invitations.SUBJECTS[event]}: {invitations.summary_of(meeting, panel)}"
    rows: list[dict[str, Any]] = []
    for member in panel.members:
        text = invitations.email_text(meeting, panel, member, event)
        email = {"subject": subject, "text": text, "ics": ics}
        rows.append(_row(meeting, event, "email", member.email, member.email, email, now))
        if panel.webhook_url:
            body = invitations.webhook_body(meeting, panel, member, event, now)
            rows.append(_row(meeting, event, "webhook", member.email, panel.webhook_url,
                             {"body": body}, now))  # fmt: skip
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    written = 0
    for values in rows:
        # The unique key (meeting, version, channel, member) makes a repeated change write nothing.
        written += (
            session.execute(
                insert(Notification).values(**values).on_conflict_do_nothing()
                .returning(Notification.id)
            ).scalar_one_or_none()
            is not None
        )  # fmt: skip
    return written


def _row(meeting: Meeting, event: str, channel: str, member_email: str, recipient: str,
         content: dict[str, Any], now: datetime) -> dict[str, Any]:  # fmt: skip
    return {
        "id": "msg_" + new_hex(12),
        "meeting_id": meeting.id,
        "sequence": meeting.sequence,
        "event": event,
        "channel": channel,
        "member_email": member_email,
        "recipient": recipient,
        "content": content,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks signature header value: `v1,<base64 HMAC-SHA256>`."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff after the given number of failed attempts."""
    delay: timedelta = FIRST_RETRY * 2 ** max(0, attempts - 1)
    return min(delay, LONGEST_RETRY)


def _claim(sessions: Sessions, now: datetime) -> list[str]:
    """Take the due notifications for this run; a concurrent run takes none of them."""
    with sessions.begin() as session:
        due = session.scalars(
            select(Notification.id)
            .where(Notification.status == "pending", Notification.next_attempt_at <= now)
            .order_by(Notification.next_attempt_at, Notification.id)
            .limit(BATCH)
        ).all()
        claimed = []
        for notification_id in due:
            won = session.execute(
                update(Notification)
                .where(
                    Notification.id == notification_id,
                    Notification.status == "pending",
                    Notification.next_attempt_at <= now,
                )
                .values(next_attempt_at=now + CLAIM, attempts=Notification.attempts + 1)
                .returning(Notification.id)
                .execution_options(synchronize_session=False)
            ).scalar_one_or_none()
            if won is not None:
                claimed.append(won)
        return claimed


def deliver(sessions: Sessions, settings: Settings, *, now: datetime) -> Delivery:
    """Send every due notification; failures retry with backoff for 24 hours, then fail."""
    sent = retrying = failed = 0
    for notification_id in _claim(sessions, now):
        with sessions.read() as session:
            row = session.get(Notification, notification_id)
            assert row is not None
            secret = _secret_for(session, row)
            channel, recipient, content = row.channel, row.recipient, dict(row.content)
        try:
            if channel == "email":
                send_email(settings, recipient, content)
            else:
                send_webhook(recipient, secret, notification_id, content["body"], now)
            error = None
        except (OSError, http.client.HTTPException, smtplib.SMTPException, ValueError) as problem:
            error = f"{type(problem).__name__}: {problem}"[:2000]
        outcome = _record(sessions, notification_id, error, now)
        sent += outcome == "sent"
        retrying += outcome == "pending"
        failed += outcome == "failed"
    return Delivery(sent, retrying, failed)


def _secret_for(session: Session, row: Notification) -> str | None:
    if row.channel != "webhook":
        return None
    meeting = session.get(Meeting, row.meeting_id)
    panel = session.get(Panel, meeting.panel_id) if meeting else None
    return panel.webhook_secret if panel else None


def _record(sessions: Sessions, notification_id: str, error: str | None, now: datetime) -> str:
    with sessions.begin() as session:
        row = session.get(Notification, notification_id)
        assert row is not None
        if error is None:
            row.status, row.sent_at, row.last_error = "sent", now, None
            return row.status
        row.last_error = error
        retry_at = now + retry_delay(row.attempts)
        if retry_at > row.created_at + GIVE_UP_AFTER:
            row.status = "failed"
            audit.record(session, SYSTEM, "notification.fail", "notification", row.id, at=now,
                         after={"attempts": row.attempts, "error": error})  # fmt: skip
        else:
            row.next_attempt_at = retry_at
        return row.status


def send_email(settings: Settings, to: str, content: dict[str, Any]) -> None:
    """Send one email over SMTP: plain text with the invitation attached as text/calendar."""
    if not settings.smtp_url:
        raise ValueError("PLACEMENTS_SMTP_URL is not set")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.mail_from, to, content["subject"]
    message.set_content(content["text"])
    message.add_attachment(
        content["ics"].encode(), maintype="text", subtype="calendar",
        filename="invite.ics", params={"method": "REQUEST"},
    )  # fmt: skip
    url = urlsplit(settings.smtp_url)
    secure = url.scheme == "smtps"
    client_class = smtplib.SMTP_SSL if secure else smtplib.SMTP
    port = url.port or (465 if secure else 25)
    with client_class(url.hostname or "127.0.0.1", port, timeout=TIMEOUT_SECONDS) as client:
        if url.scheme == "smtp+starttls":
            client.starttls()
        if url.username:
            client.login(unquote(url.username), unquote(url.password or ""))
        client.send_message(message)


def send_webhook(url: str, secret: str | None, webhook_id: str, body: dict[str, Any],
                 now: datetime) -> None:  # fmt: skip
    """POST one signed webhook; anything but a 2xx answer is a failure."""
    if not secret:
        raise ValueError("the panel has no webhook secret")
    data = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(now.timestamp())
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, webhook_id, timestamp, data),
    })  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            response.read()
    except urllib.error.HTTPError as error:
        raise ValueError(f"the receiver answered {error.code}") from error


def list_notifications(sessions: Sessions, actor: Actor,
                       query: NotificationFilter) -> list[NotificationView]:  # fmt: skip
    """The outbox, newest first (admin only): pending, sent and failed notifications."""
    actor.require("admin")
    statement = select(Notification)
    if query.status:
        statement = statement.where(Notification.status == query.status)
    if query.channel:
        statement = statement.where(Notification.channel == query.channel)
    if query.meeting_id:
        statement = statement.where(Notification.meeting_id == query.meeting_id)
    statement = (
        statement.order_by(Notification.created_at.desc(), Notification.id)
        .offset((query.page - 1) * query.page_size)
        .limit(query.page_size)
    )
    with sessions.read() as session:
        return [_view(row) for row in session.scalars(statement)]
