"""Offers: homes see those to their units and accept, decline or release them."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.context import actor, now, sessions, settings
from api.fields import PageSchema, one_of
from api.paging import PAGINATION_HEADER_DOC, paged
from api.roles import operation
from placements import offers
from placements.vocabulary import (
    CANCEL_REASONS,
    DECLINE_REASONS,
    OFFER_STATUSES,
    RELEASE_REASONS,
)

blp = Blueprint("offers", __name__, url_prefix="/offers", description="Offers to homes")


class ChildFactsSchema(Schema):
    """What a home sees of the child: no case reference, no home address."""

    age = fields.Integer()
    sex = fields.String()
    legal_basis = fields.String()
    grounds = fields.List(fields.String())
    needs = fields.List(fields.String())
    flags = fields.List(fields.String())
    authority_kind = fields.String()
    authority_expires_at = fields.DateTime(allow_none=True)
    needed_by = fields.DateTime(allow_none=True)


class PlacingAuthoritySchema(Schema):
    """The local authority placing the child."""

    id = fields.String()
    name = fields.String()


class OfferSchema(Schema):
    """An offer, with only the child's facts a home needs to decide."""

    id = fields.String()
    request_id = fields.String()
    unit_id = fields.String()
    provider_id = fields.String()
    status = fields.String()
    score = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    answered_at = fields.DateTime(allow_none=True)
    decline_reason = fields.String(allow_none=True)
    decline_note = fields.String(allow_none=True)
    matching_run_id = fields.String(allow_none=True)
    cancel_reason = fields.String(
        allow_none=True,
        metadata={"description": "why the service cancelled it", "enum": list(CANCEL_REASONS)},
    )
    cancel_detail = fields.String(
        allow_none=True, metadata={"description": "for no_longer_eligible: the rules now broken"}
    )
    released_at = fields.DateTime(allow_none=True)
    release_reason = fields.String(allow_none=True, metadata={"enum": list(RELEASE_REASONS)})
    release_note = fields.String(allow_none=True)
    placing_authority = fields.Nested(
        PlacingAuthoritySchema, metadata={"description": "whom the home calls about the child"}
    )
    child = fields.Nested(ChildFactsSchema)


class OfferQuerySchema(PageSchema):
    """Filters and page of the offer list."""

    status = one_of(OFFER_STATUSES)


class ReleaseSchema(Schema):
    """Why the home gives back an offer it accepted."""

    reason = one_of(RELEASE_REASONS, required=True)
    note = fields.String(validate=validate.Length(max=2000), load_default=None, allow_none=True)


class DeclineSchema(Schema):
    """Why the home declines."""

    reason = one_of(DECLINE_REASONS, required=True)
    note = fields.String(validate=validate.Length(max=2000), load_default=None, allow_none=True)


@blp.route("")
class Offers(MethodView):
    """Offers visible to the caller."""

    @operation("offers.list")
    @blp.arguments(OfferQuerySchema, location="query")
    @blp.response(200, OfferSchema(many=True), headers=PAGINATION_HEADER_DOC)
    def get(self, query: dict[str, Any]) -> Any:
        """List offers, newest first, a page at a time: a home's own, a director's authority's,
        or all (admin)."""
        return paged(offers.list_offers(sessions(), actor(), **query, now=now()))


@blp.route("/<offer_id>")
class OfferById(MethodView):
    """One offer."""

    @operation("offers.get")
    @blp.response(200, OfferSchema)
    def get(self, offer_id: str) -> Any:
        """Read an offer."""
        return offers.get_offer(sessions(), actor(), offer_id, now=now())


@blp.route("/<offer_id>/accept")
class Accept(MethodView):
    """Acceptance."""

    @operation("offers.accept")
    @blp.response(200, OfferSchema)
    @blp.alt_response(409, description="No bed left, or the offer is no longer pending")
    def post(self, offer_id: str) -> Any:
        """Accept the offer and reserve its bed (the unit's home)."""
        return offers.accept(sessions(), actor(), offer_id, settings=settings(), now=now())


@blp.route("/<offer_id>/decline")
class Decline(MethodView):
    """Decline."""

    @operation("offers.decline")
    @blp.arguments(DeclineSchema)
    @blp.response(200, OfferSchema)
    def post(self, body: dict[str, Any], offer_id: str) -> Any:
        """Decline the offer with a coded reason (the unit's home)."""
        return offers.decline(
            sessions(), actor(), offer_id, body["reason"], body["note"], now=now()
        )


@blp.route("/<offer_id>/release")
class Release(MethodView):
    """Release of an accepted offer."""

    @operation("offers.release")
    @blp.arguments(ReleaseSchema)
    @blp.response(200, OfferSchema)
    @blp.alt_response(409, description="The offer is not accepted, or the child has arrived")
    def post(self, body: dict[str, Any], offer_id: str) -> Any:
        """Give back an accepted offer before the child arrives (the unit's home): frees the bed."""
        return offers.release(
            sessions(), actor(), offer_id, body["reason"], body["note"], now=now()
        )
