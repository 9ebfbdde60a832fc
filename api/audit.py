"""The audit log, for the coordinator."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, post_load

from api.context import actor, sessions
from api.fields import PageSchema, moment
from api.roles import operation
from placements import audit

blp = Blueprint("audit", __name__, url_prefix="/audit", description="Who changed or read what")


class AuditQuerySchema(PageSchema):
    """Filters of the audit log."""

    object_type = fields.String()
    object_id = fields.String()
    action = fields.String()
    since = moment()
    until = moment()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> audit.AuditFilter:
        """Build the filter."""
        return audit.AuditFilter(**data)


class AuditEventSchema(Schema):
    """One audit event."""

    id = fields.Integer()
    at = fields.DateTime()
    actor_label = fields.String()
    actor_role = fields.String()
    action = fields.String()
    object_type = fields.String()
    object_id = fields.String()
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)
    note = fields.String(allow_none=True)


@blp.route("")
class AuditEvents(MethodView):
    """The audit log."""

    @operation("audit.list")
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditEventSchema(many=True))
    def get(self, query: audit.AuditFilter) -> Any:
        """List audit events, newest first, by object, action and time (admin)."""
        return audit.list_events(sessions(), actor(), query)
