"""Escalation thresholds: the demand rules and their amber and red levels."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from api.context import actor, now, sessions
from api.fields import StrictBoolean, StrictNumber
from api.roles import operation
from placements import thresholds

blp = Blueprint(
    "thresholds", __name__, url_prefix="/thresholds", description="When escalation meetings happen"
)


def level(**kwargs: Any) -> fields.Float:
    """A threshold level: a number from 0, or null for none."""
    return StrictNumber(
        allow_none=True, load_default=None, validate=validate.Range(0, 1e6), **kwargs
    )


class RuleSchema(Schema):
    """A rule: breached when its measure compares to a level as `comparison` says."""

    description = fields.String()
    comparison = fields.String()
    enabled = fields.Boolean()
    amber = fields.Float(allow_none=True)
    red = fields.Float(allow_none=True)


class RuleChangeSchema(Schema):
    """A rule's new setting."""

    enabled = StrictBoolean(required=True)
    amber = level()
    red = level()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> thresholds.RuleChange:
        """Build the change."""
        return thresholds.RuleChange(**data)


class ThresholdsChangeSchema(Schema):
    """New settings of some rules; rules not named keep theirs."""

    openapi_constraints = {"minProperties": 1}  # at least one rule

    open_welfare_requests = fields.Nested(RuleChangeSchema)
    free_welfare_beds = fields.Nested(RuleChangeSchema)
    longest_wait_days = fields.Nested(RuleChangeSchema)
    hours_without_order = fields.Nested(RuleChangeSchema)
    stale_availability_hours = fields.Nested(RuleChangeSchema)

    @validates_schema
    def some(self, data: dict[str, Any], **_: Any) -> None:
        """At least one rule is named."""
        if not data:
            raise ValidationError("name at least one rule", field_name="_schema")


class ThresholdsSchema(Schema):
    """Every rule, by name."""

    open_welfare_requests = fields.Nested(RuleSchema)
    free_welfare_beds = fields.Nested(RuleSchema)
    longest_wait_days = fields.Nested(RuleSchema)
    hours_without_order = fields.Nested(RuleSchema)
    stale_availability_hours = fields.Nested(RuleSchema)


@blp.route("")
class Thresholds(MethodView):
    """The escalation rules."""

    @operation("thresholds.list")
    @blp.response(200, ThresholdsSchema)
    def get(self) -> Any:
        """The rules in force and their levels (admin, directors, panel members)."""
        return thresholds.list_rules(sessions(), actor())

    @operation("thresholds.change")
    @blp.arguments(ThresholdsChangeSchema)
    @blp.response(200, ThresholdsSchema)
    def put(self, changes: dict[str, thresholds.RuleChange]) -> Any:
        """Change, turn off or turn on rules (admin)."""
        return thresholds.change(sessions(), actor(), changes, now=now())
