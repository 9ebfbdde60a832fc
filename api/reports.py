"""Reports for the coordinator."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from api.context import actor, sessions
from api.fields import moment
from api.roles import operation
from placements import reports

blp = Blueprint("reports", __name__, url_prefix="/reports", description="Reports")


class RateSchema(Schema):
    """Answers for one group and the share accepted."""

    group = fields.String()
    accepted = fields.Integer()
    declined = fields.Integer()
    acceptance_rate = fields.Float(allow_none=True)


class DeclineReportSchema(Schema):
    """Declines by reason and provider; acceptance by sex, age band, legal basis and flag."""

    answers = fields.Integer()
    declines_by_reason = fields.Dict(keys=fields.String(), values=fields.Integer())
    declines_by_provider = fields.Dict(keys=fields.String(), values=fields.Dict())
    by_sex = fields.List(fields.Nested(RateSchema))
    by_age_band = fields.List(fields.Nested(RateSchema))
    by_legal_basis = fields.List(fields.Nested(RateSchema))
    by_flag = fields.List(fields.Nested(RateSchema))


class ReportQuerySchema(Schema):
    """The period of a report."""

    since = moment()


@blp.route("/declines")
class Declines(MethodView):
    """Decline report."""

    @operation("reports.declines")
    @blp.arguments(ReportQuerySchema, location="query")
    @blp.response(200, DeclineReportSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """Who declines whom and why, and acceptance rates by kind of child (admin)."""
        return reports.declines(sessions(), actor(), since=query.get("since"))
