"""Meetings the service calls: the panel's view, invitations, acknowledgements and outcomes."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, post_load, validate

from api.context import actor, now, sessions, settings
from api.fields import PageSchema, moment, one_of
from api.paging import PAGINATION_HEADER_DOC, paged
from api.roles import operation
from placements import meetings

blp = Blueprint("meetings", __name__, url_prefix="/meetings", description="Panel meetings")

KINDS = ("review", "escalation")
STATUSES = ("called", "held", "cancelled", "overdue")
RECOMMENDATIONS = ("continue", "end", "alternative_accommodation")


class MeetingQuerySchema(PageSchema):
    """Filters of the meeting list."""

    kind = one_of(KINDS)
    status = one_of(STATUSES)
    panel = fields.String(validate=validate.Length(1, 64))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> meetings.MeetingFilter:
        """Build the filter."""
        panel_id = data.pop("panel", None)
        return meetings.MeetingFilter(panel_id=panel_id, **data)


class OutcomeSchema(Schema):
    """What the chair records: when it was held, who came, and the recommendation."""

    held_at = moment(required=True)
    attendees = fields.List(
        fields.String(validate=validate.Length(1, 200)),
        required=True,
        validate=validate.Length(1, 50),
    )
    recommendation = one_of(RECOMMENDATIONS, required=True)
    text = fields.String(load_default="", validate=validate.Length(max=5000))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> meetings.Outcome:
        """Build the outcome."""
        return meetings.Outcome(**{**data, "attendees": tuple(data["attendees"])})


class OutcomeViewSchema(Schema):
    """A held meeting's outcome."""

    held_at = fields.DateTime()
    attendees = fields.List(fields.String())
    recommendation = fields.String()
    text = fields.String()
    recorded_by = fields.String()
    next_review_due = fields.DateTime(allow_none=True)


class MeetingSchema(Schema):
    """A meeting, its agenda and whether its panel can lawfully sit."""

    id = fields.String()
    kind = fields.String()
    panel_id = fields.String()
    panel_name = fields.String()
    status = fields.String()
    priority = fields.String(allow_none=True)
    due_by = fields.DateTime(allow_none=True)
    scheduled_for = fields.DateTime()
    can_sit = fields.Boolean()
    cannot_sit_reasons = fields.List(fields.String())
    request_ids = fields.List(fields.String())
    placement_id = fields.String(allow_none=True)
    episode_id = fields.String(allow_none=True)
    agenda = fields.Dict(keys=fields.String(), values=fields.Raw())
    sequence = fields.Integer()
    called_at = fields.DateTime()
    updated_at = fields.DateTime()
    acknowledged_by = fields.List(fields.String())
    outcome = fields.Nested(OutcomeViewSchema, allow_none=True)


@blp.route("")
class Meetings(MethodView):
    """Meetings called by the service."""

    @operation("meetings.list")
    @blp.arguments(MeetingQuerySchema, location="query")
    @blp.response(200, MeetingSchema(many=True), headers=PAGINATION_HEADER_DOC)
    def get(self, query: meetings.MeetingFilter) -> Any:
        """List meetings by kind, status and panel, soonest first, a page at a time: all
        (admin) or the member's own panel's."""
        return paged(meetings.list_meetings(sessions(), actor(), query))


@blp.route("/<meeting_id>")
class MeetingById(MethodView):
    """One meeting."""

    @operation("meetings.get")
    @blp.response(200, MeetingSchema)
    def get(self, meeting_id: str) -> Any:
        """Read a meeting with its agenda."""
        return meetings.get_meeting(sessions(), actor(), meeting_id)


@blp.route("/<meeting_id>/invite.ics")
class MeetingInvitation(MethodView):
    """A meeting's calendar invitation."""

    @operation("meetings.invitation")
    @blp.response(200, content_type="text/calendar", description="an iCalendar invitation")
    def get(self, meeting_id: str) -> Any:
        """The meeting as an iCalendar invitation; its UID is stable, so changes replace it."""
        invite = meetings.invitation(sessions(), actor(), meeting_id, settings=settings())
        return Response(
            invite.content,
            mimetype="text/calendar",
            headers={"Content-Disposition": f'attachment; filename="{invite.meeting_id}.ics"'},
        )


@blp.route("/<meeting_id>/acknowledge")
class Acknowledgement(MethodView):
    """A member's acknowledgement."""

    @operation("meetings.acknowledge")
    @blp.response(200, MeetingSchema)
    def post(self, meeting_id: str) -> Any:
        """Acknowledge the meeting call (a member of its panel)."""
        return meetings.acknowledge(sessions(), actor(), meeting_id, now=now())


@blp.route("/<meeting_id>/outcome")
class MeetingOutcome(MethodView):
    """The outcome of a meeting."""

    @operation("meetings.record_outcome")
    @blp.arguments(OutcomeSchema)
    @blp.response(200, MeetingSchema)
    @blp.alt_response(409, description="The meeting was held or cancelled already")
    def post(self, outcome: meetings.Outcome, meeting_id: str) -> Any:
        """Record the meeting as held (the panel's chair); a review sets the next due date."""
        return meetings.record_outcome(
            sessions(), actor(), meeting_id, outcome, settings=settings(), now=now()
        )
