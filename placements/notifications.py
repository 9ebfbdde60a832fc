"""The outbox: notifications written with each meeting change, delivered by email and webhook."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import smtplib
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from placements import access, audit, invitations
from placements.auth import SYSTEM, Actor
from placements.clock import RunningClock
from placements.config import Settings
from placements.db import Sessions
from placements.ids import new_hex
from placements.invitations import UID_DOMAIN
from placements.models import Meeting, Notification, Panel
from placements.panels import signing_key

log = logging.getLogger("placements.notifications")

FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=2)
GIVE_UP_AFTER = timedelta(hours=24)
# A claimed notification is not tried again by anyone else for this long; a run starts no send
# that could end after it, so a batch never outlasts its claim.
CLAIM = timedelta(minutes=5)
BATCH = 200
# How an attempt that ran out of its deadline is recorded (the rest of its lane is then skipped).
NO_ANSWER = "no answer within"
# The event of a sign-in link's email (no meeting): its text is dropped once sent.
SIGN_IN = "sign_in"


@dataclass(frozen=True)
class NotificationView:
    """A notification as admins see it in the outbox."""

    id: str
    meeting_id: str | None
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
    # Claimed but not tried before the claim ran out: due again at once, no attempt counted.
    deferred: int = 0


@dataclass(frozen=True)
class Outgoing:
    """One claimed notification, loaded for sending."""

    id: str
    channel: str
    recipient: str
    content: dict[str, Any]
    secret: str | None


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


def _claim(sessions: Sessions, now: datetime, only: str | None = None) -> list[Outgoing]:
    """Take the due notifications for this run (or just `only`); a concurrent run takes none of
    them."""
    with sessions.begin() as session:
        wanted = select(Notification.id).where(
            Notification.status == "pending", Notification.next_attempt_at <= now
        )
        if only is not None:
            wanted = wanted.where(Notification.id == only)
        due = session.scalars(
            wanted.order_by(Notification.next_attempt_at, Notification.id).limit(BATCH)
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
                .values(next_attempt_at=now + CLAIM)
                .returning(Notification.id)
                .execution_options(synchronize_session=False)
            ).scalar_one_or_none()
            if won is not None:
                claimed.append(won)
        rows = [session.get_one(Notification, notification_id) for notification_id in claimed]
        return [
            Outgoing(
                row.id, row.channel, row.recipient, dict(row.content), _secret_for(session, row)
            )
            for row in rows
        ]


def receiver_of(item: Outgoing, settings: Settings) -> str:
    """Who answers a send: the SMTP server for emails, the URL's host and port for webhooks."""
    if item.channel == "email":
        return f"smtp {settings.smtp_url or '-'}"
    return f"webhook {urlsplit(item.recipient).netloc}"


def deliver(sessions: Sessions, settings: Settings, *, now: datetime) -> Delivery:
    """Send every due notification; failures retry with backoff for 24 hours, then fail.

    One lane per receiver, all lanes at once: a slow or hung receiver delays only its own
    notifications. Each send has `delivery_timeout_seconds`; after a send ran out of it, the rest
    of that receiver's batch is not tried in this run (they are retried with backoff).
    """
    moment = RunningClock(now)  # the moment of each send: the job's time plus what has elapsed
    claimed = _claim(sessions, now)
    lanes: dict[str, list[Outgoing]] = {}
    for item in claimed:
        lanes.setdefault(receiver_of(item, settings), []).append(item)
    outcomes: list[str] = []
    threads = [
        threading.Thread(target=_send_lane, name=f"lane {receiver}", daemon=True,
                         args=(sessions, settings, receiver, items, moment, now + CLAIM, outcomes))
        for receiver, items in lanes.items()
    ]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        # A lane starts no send that could end after the claim; the margin is for the database.
        thread.join(max(0.0, (now + CLAIM - moment.now()).total_seconds()) + 30)
    return Delivery(outcomes.count("sent"), outcomes.count("pending"), outcomes.count("failed"),
                    outcomes.count("deferred"))  # fmt: skip


def deliver_one(sessions: Sessions, settings: Settings, notification_id: str, *,
                now: datetime) -> str:  # fmt: skip
    """Send one notification now (a sign-in link), as the notify job would: claimed, sent within
    the deadline, recorded; if it fails, the job retries it. Its status afterwards."""
    claimed = _claim(sessions, now, only=notification_id)
    outcomes: list[str] = []
    if claimed:
        _send_lane(sessions, settings, receiver_of(claimed[0], settings), claimed,
                   RunningClock(now), now + CLAIM, outcomes)  # fmt: skip
    return outcomes[0] if outcomes else "pending"


def _send_lane(
    sessions: Sessions,
    settings: Settings,
    receiver: str,
    items: list[Outgoing],
    moment: RunningClock,
    claim_ends: datetime,
    outcomes: list[str],
) -> None:
    """Send one receiver's notifications in turn, each within its deadline."""
    deadline = settings.delivery_timeout_seconds
    silent: str | None = None
    for item in items:
        if silent is None and moment.now() + timedelta(seconds=deadline) > claim_ends:
            _defer(sessions, item.id, claim_ends - CLAIM)
            outcomes.append("deferred")
            continue
        error = silent or _attempt(item, settings, moment, deadline)
        if silent is None and error is not None and error.startswith(NO_ANSWER):
            silent = f"not tried: {receiver} gave no answer within the deadline in this run"
        outcomes.append(_record(sessions, item.id, error, moment.now()))


def _attempt(item: Outgoing, settings: Settings, moment: RunningClock,
             deadline: float) -> str | None:  # fmt: skip
    """Send in a thread of its own and wait for it at most `deadline` seconds; the error, if any.

    A send past its deadline is abandoned (its thread ends at the socket timeout); if it still
    gets through, the retry is a duplicate that the receiver drops by its id.
    """
    outcome: list[str | None] = []

    def send() -> None:
        try:
            if item.channel == "email":
                send_email(settings, item.recipient, item.content, notification_id=item.id,
                           sent_at=moment.now(), timeout=deadline)  # fmt: skip
            else:
                send_webhook(item.recipient, item.secret, item.id, item.content["body"],
                             moment.now(), timeout=deadline)  # fmt: skip
            outcome.append(None)
        except TimeoutError:  # the socket's timeout is the deadline: whichever fires first
            outcome.append(f"{NO_ANSWER} the {deadline:g} s deadline")
        except (OSError, http.client.HTTPException, smtplib.SMTPException, ValueError) as problem:
            outcome.append(f"{type(problem).__name__}: {problem}"[:2000])
        except Exception as problem:  # a fault of ours: kept on the row and logged, then retried
            log.exception("sending notification %s failed", item.id)
            outcome.append(f"{type(problem).__name__}: {problem}"[:2000])

    sender = threading.Thread(target=send, name=f"send {item.id}", daemon=True)
    sender.start()
    sender.join(deadline)
    if sender.is_alive() or not outcome:
        return f"{NO_ANSWER} the {deadline:g} s deadline"
    return outcome[0]


def _secret_for(session: Session, row: Notification) -> str | None:
    if row.channel != "webhook":
        return None
    meeting = session.get(Meeting, row.meeting_id)
    panel = session.get(Panel, meeting.panel_id) if meeting else None
    return panel.webhook_secret if panel else None


def _defer(sessions: Sessions, notification_id: str, now: datetime) -> None:
    """Give back a claimed notification that was not tried: due again at the next run."""
    with sessions.begin() as session:
        session.get_one(Notification, notification_id).next_attempt_at = now


def _record(sessions: Sessions, notification_id: str, error: str | None, now: datetime) -> str:
    with sessions.begin() as session:
        row = session.get_one(Notification, notification_id)
        row.attempts += 1
        if error is None:
            row.status, row.sent_at, row.last_error = "sent", now, None
            if row.event == SIGN_IN:  # the link signs someone in: not kept once it has gone
                row.content = {**row.content, "text": "(sent; the link is not kept)"}
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


def message_id_for(notification_id: str) -> str:
    """The email's Message-ID: the notification id, so every retry carries the same one."""
    return f"<{notification_id}@{UID_DOMAIN}>"


def send_email(settings: Settings, to: str, content: dict[str, Any], *, notification_id: str,
               sent_at: datetime, timeout: float) -> None:  # fmt: skip
    """Send one email over SMTP: plain text, with a meeting's invitation attached as
    text/calendar."""
    if not settings.smtp_url:
        raise ValueError("PLACEMENTS_SMTP_URL is not set")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.mail_from, to, content["subject"]
    message["Message-ID"] = message_id_for(notification_id)
    message["Date"] = format_datetime(sent_at)
    message.set_content(content["text"])
    if "ics" in content:
        message.add_attachment(
            content["ics"].encode(), maintype="text", subtype="calendar",
            filename="invite.ics", params={"method": "REQUEST"},
        )  # fmt: skip
    url = urlsplit(settings.smtp_url)
    secure = url.scheme == "smtps"
    client_class = smtplib.SMTP_SSL if secure else smtplib.SMTP
    port = url.port or (465 if secure else 25)
    with client_class(url.hostname or "127.0.0.1", port, timeout=timeout) as client:
        if url.scheme == "smtp+starttls":
            client.starttls()
        if url.username:
            client.login(unquote(url.username), unquote(url.password or ""))
        client.send_message(message)


def send_webhook(url: str, secret: str | None, webhook_id: str, body: dict[str, Any],
                 sent_at: datetime, *, timeout: float) -> None:  # fmt: skip
    """POST one signed webhook, stamped and signed at the moment of sending; only 2xx succeeds."""
    if not secret:
        raise ValueError("the panel has no webhook secret")
    data = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(sent_at.timestamp())
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, webhook_id, timestamp, data),
    })  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as error:
        raise ValueError(f"the receiver answered {error.code}") from error


def list_notifications(sessions: Sessions, actor: Actor,
                       query: NotificationFilter) -> list[NotificationView]:  # fmt: skip
    """The outbox, newest first (admin only): pending, sent and failed notifications."""
    access.require(actor, "notifications.list")
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
