"""The notifications outbox, for the coordinator."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, post_load, validate

from api.context import actor, sessions
from api.fields import PageSchema, one_of
from api.roles import operation
from placements import notifications

blp = Blueprint(
    "notifications", __name__, url_prefix="/notifications", description="Emails and webhooks sent"
)


class NotificationQuerySchema(PageSchema):
    """Filters of the outbox."""

    status = one_of(("pending", "sent", "failed"))
    channel = one_of(("email", "webhook"))
    meeting_id = fields.String(validate=validate.Length(1, 32))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> notifications.NotificationFilter:
        """Build the filter."""
        return notifications.NotificationFilter(**data)


class NotificationSchema(Schema):
    """One notification and how its delivery went."""

    id = fields.String()
    meeting_id = fields.String()
    event = fields.String()
    channel = fields.String()
    member_email = fields.String()
    recipient = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime()
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    last_error = fields.String(allow_none=True)


@blp.route("")
class Notifications(MethodView):
    """The outbox."""

    @operation("notifications.list")
    @blp.arguments(NotificationQuerySchema, location="query")
    @blp.response(200, NotificationSchema(many=True))
    def get(self, query: notifications.NotificationFilter) -> Any:
        """List notifications, newest first: pending, sent, and failed after 24 hours (admin)."""
        return notifications.list_notifications(sessions(), actor(), query)
