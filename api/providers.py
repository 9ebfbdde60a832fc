"""Homes: read by everyone, registered by the coordinator."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, post_load, validate

from api.context import actor, now, sessions, settings
from api.fields import SLUG, StrictInteger, latitude, longitude, one_of
from api.roles import operation
from api.units import UnitSchema, flag_counts
from placements import acceptance, providers
from placements.vocabulary import (
    DESIGNATIONS,
    NATIONS,
    OUT_OF_USE_REASONS,
    PROVIDER_STATUSES,
    SEXES,
    SPECIALISMS,
)

blp = Blueprint("providers", __name__, url_prefix="/providers", description="Secure homes")


class ProviderSchema(Schema):
    """A home."""

    id = fields.String()
    name = fields.String()
    operator = fields.String()
    town = fields.String()
    nation = fields.String()
    lat = fields.Float()
    lon = fields.Float()
    status = fields.String()
    unit_ids = fields.List(fields.String())
    approved_beds = fields.Integer()


class StartingAvailabilitySchema(Schema):
    """The counts a new unit starts with."""

    staffed_beds = StrictInteger(required=True, validate=validate.Range(min=0, max=1000))
    occupied_beds = StrictInteger(load_default=0, validate=validate.Range(min=0, max=1000))
    out_of_use_reason = one_of(OUT_OF_USE_REASONS, allow_none=True, load_default=None)
    resident_flags = flag_counts(load_default=dict)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> providers.StartingAvailability:
        """Build the starting counts."""
        return providers.StartingAvailability(**data)


class UnitSpecSchema(Schema):
    """A unit as registered."""

    slug = fields.String(required=True, validate=SLUG)
    name = fields.String(required=True, validate=validate.Length(1, 200))
    approved_beds = StrictInteger(required=True, validate=validate.Range(min=1, max=100))
    designation = one_of(DESIGNATIONS, required=True)
    sexes = fields.List(one_of(SEXES), required=True, validate=validate.Length(1, 2))
    min_age = StrictInteger(required=True, validate=validate.Range(8, 21))
    max_age = StrictInteger(required=True, validate=validate.Range(8, 21))
    specialisms = fields.List(one_of(SPECIALISMS), load_default=list)
    availability = fields.Nested(StartingAvailabilitySchema, load_default=None)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> providers.UnitSpec:
        """Build the unit's registration."""
        return providers.UnitSpec(**data)


class ProviderRegistrationSchema(Schema):
    """A home as registered, with its units."""

    name = fields.String(required=True, validate=validate.Length(1, 200))
    operator = fields.String(required=True, validate=validate.Length(1, 200))
    town = fields.String(required=True, validate=validate.Length(1, 100))
    nation = one_of(NATIONS, required=True)
    lat = latitude(required=True)
    lon = longitude(required=True)
    status = one_of(PROVIDER_STATUSES, load_default="active")
    units = fields.List(fields.Nested(UnitSpecSchema), load_default=list)


@blp.route("")
class Providers(MethodView):
    """All homes."""

    @operation("providers.list")
    @blp.response(200, ProviderSchema(many=True))
    def get(self) -> Any:
        """List the homes."""
        return providers.list_providers(sessions(), actor())


@blp.route("/<provider_id>")
class ProviderById(MethodView):
    """One home."""

    @operation("providers.get")
    @blp.response(200, ProviderSchema)
    def get(self, provider_id: str) -> Any:
        """Read a home."""
        return providers.get_provider(sessions(), actor(), provider_id)

    @operation("providers.register")
    @blp.arguments(ProviderRegistrationSchema)
    @blp.response(200, ProviderSchema)
    def put(self, body: dict[str, Any], provider_id: str) -> Any:
        """Register or update a home and its units (admin); units not listed are kept."""
        spec = providers.ProviderSpec(id=provider_id, **body)
        return providers.register(sessions(), actor(), spec, now=now()).provider


@blp.route("/<provider_id>/units")
class ProviderUnits(MethodView):
    """A home's units."""

    @operation("providers.units")
    @blp.response(200, UnitSchema(many=True))
    def get(self, provider_id: str) -> Any:
        """List a home's units with their availability."""
        return providers.provider_units(
            sessions(), actor(), provider_id, settings=settings(), now=now()
        )


class SegmentSchema(Schema):
    """A provider's answers for one kind of request; `suppressed` (null counts and estimate) when
    it holds fewer than 5 answers, or when the suppressed ones together would otherwise hold
    fewer than 5 (so that the true totals minus the shown segments cannot reveal them)."""

    legal_basis = fields.String()
    sex = fields.String()
    age_band = fields.String()
    flags = fields.List(fields.String())
    suppressed = fields.Boolean()
    accepted = fields.Integer(allow_none=True)
    declined = fields.Integer(allow_none=True)
    estimate = fields.Float(allow_none=True)


class AcceptanceSchema(Schema):
    """How likely a home is to accept, and the answers behind it."""

    provider_id = fields.String()
    accepted = fields.Integer()
    declined = fields.Integer()
    prior = fields.Float()
    national_accepted = fields.Integer()
    national_declined = fields.Integer()
    prior_strength = fields.Float()
    segments = fields.List(fields.Nested(SegmentSchema))


@blp.route("/<provider_id>/acceptance")
class ProviderAcceptance(MethodView):
    """A home's likely acceptance."""

    @operation("providers.acceptance")
    @blp.response(200, AcceptanceSchema)
    def get(self, provider_id: str) -> Any:
        """Show the home's acceptance figures and the number of answers behind them."""
        return acceptance.figures(sessions(), actor(), provider_id)
