"""Placements: children admitted to units, and their discharge."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.context import actor, now, sessions, settings
from api.fields import PageSchema, moment, one_of
from api.paging import PAGINATION_HEADER_DOC, paged
from api.roles import operation
from placements import admissions

blp = Blueprint("placements", __name__, url_prefix="/placements", description="Placements")


class PlacementSchema(Schema):
    """A child's placement in a unit."""

    id = fields.String()
    request_id = fields.String()
    unit_id = fields.String()
    provider_id = fields.String()
    authority_id = fields.String()
    legal_basis = fields.String()
    status = fields.String()
    admitted_at = fields.DateTime()
    discharged_at = fields.DateTime(allow_none=True)
    destination = fields.String(allow_none=True)
    next_review_due = fields.DateTime(allow_none=True)


class PlacementQuerySchema(PageSchema):
    """Filters and page of the placement list."""

    status = one_of(("active", "discharged"))


class DischargeSchema(Schema):
    """When the child left and where to."""

    discharged_at = moment(required=True)
    destination = fields.String(required=True, validate=validate.Length(1, 200))


@blp.route("")
class Placements(MethodView):
    """Placements visible to the caller."""

    @operation("placements.list")
    @blp.arguments(PlacementQuerySchema, location="query")
    @blp.response(200, PlacementSchema(many=True), headers=PAGINATION_HEADER_DOC)
    def get(self, query: dict[str, Any]) -> Any:
        """List placements, the latest admitted first, a page at a time: an authority's, a
        home's, or all (admin)."""
        return paged(admissions.list_placements(sessions(), actor(), **query))


@blp.route("/<placement_id>")
class PlacementById(MethodView):
    """One placement."""

    @operation("placements.get")
    @blp.response(200, PlacementSchema)
    def get(self, placement_id: str) -> Any:
        """Read a placement."""
        return admissions.get(sessions(), actor(), placement_id)


@blp.route("/<placement_id>/discharge")
class Discharge(MethodView):
    """Discharge."""

    @operation("placements.discharge")
    @blp.arguments(DischargeSchema)
    @blp.response(200, PlacementSchema)
    @blp.alt_response(409, description="The placement has ended already")
    def post(self, body: dict[str, Any], placement_id: str) -> Any:
        """Discharge the child and free the bed."""
        return admissions.discharge(
            sessions(), actor(), placement_id, body["discharged_at"], body["destination"],
            settings=settings(), now=now(),
        )  # fmt: skip
