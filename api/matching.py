"""Batch matching runs for the coordinator."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from api.context import actor, now, sessions, settings
from api.offers import OfferSchema
from api.roles import operation
from placements import matching

blp = Blueprint("matching", __name__, url_prefix="/matching", description="Batch matching")


class RunSchema(Schema):
    """A batch run: proposals, unplaced requests with reasons, status and gap."""

    id = fields.String()
    created_at = fields.DateTime()
    status = fields.String()
    placed = fields.Integer()
    placed_bound = fields.Integer()
    score = fields.Integer()
    score_bound = fields.Integer()
    gap = fields.Float()
    solve_seconds = fields.Float()
    proposals = fields.List(fields.Dict())
    unplaced = fields.List(fields.Dict())


class RunOffersSchema(Schema):
    """Offers sent for a run, and proposals skipped with why."""

    offers = fields.List(fields.Nested(OfferSchema))
    skipped = fields.List(fields.Dict())


@blp.route("/runs")
class Runs(MethodView):
    """Batch runs."""

    @operation("matching.run")
    @blp.response(201, RunSchema)
    def post(self) -> Any:
        """Match every waiting request to free beds on the live state (admin)."""
        return matching.run_batch(sessions(), actor(), settings=settings(), now=now())


class RunAndOffersSchema(Schema):
    """A run, the offers sent for its proposals, and proposals skipped with why."""

    run = fields.Nested(RunSchema)
    offers = fields.List(fields.Nested(OfferSchema))
    skipped = fields.List(fields.Dict())


@blp.route("/offered-runs")
class OfferedRuns(MethodView):
    """Batch runs whose proposals are offered at once."""

    @operation("matching.run")
    @blp.response(201, RunAndOffersSchema)
    def post(self) -> Any:
        """Match every waiting request and offer each proposal, in one step (admin)."""
        return matching.run_and_offer(sessions(), actor(), settings=settings(), now=now())


@blp.route("/runs/<run_id>")
class RunById(MethodView):
    """One run."""

    @operation("matching.get_run")
    @blp.response(200, RunSchema)
    def get(self, run_id: str) -> Any:
        """Read a batch run."""
        return matching.get_run(sessions(), actor(), run_id)


@blp.route("/runs/<run_id>/offers")
class RunOffers(MethodView):
    """Offers for a run's proposals."""

    @operation("matching.offer_run")
    @blp.response(201, RunOffersSchema)
    def post(self, run_id: str) -> Any:
        """Send offers for the run's proposals that are still valid."""
        return matching.offer_run(sessions(), actor(), run_id, settings=settings(), now=now())
