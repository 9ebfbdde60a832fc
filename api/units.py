"""Units and their live availability: read by everyone, updated by the unit's provider."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, post_load, validate

from api.context import actor, now, sessions, settings
from api.etag import ETAG_HEADER_DOC, IF_MATCH_DOC, etag_of, expected_version, with_etag
from api.fields import PageSchema, StrictInteger, one_of
from api.roles import operation
from placements import availability, units
from placements.vocabulary import DESIGNATIONS, FLAGS, OUT_OF_USE_REASONS, SEXES

blp = Blueprint("units", __name__, url_prefix="/units", description="Units and live bed counts")
summary_blp = Blueprint(
    "availability", __name__, url_prefix="/availability", description="National bed totals"
)


def flag_counts(**kwargs: Any) -> fields.Dict:
    """A count of residents per flag."""
    return fields.Dict(
        keys=one_of(FLAGS), values=StrictInteger(validate=validate.Range(min=0)), **kwargs
    )


class UnitSchema(Schema):
    """A unit with its live bed counts."""

    id = fields.String()
    provider_id = fields.String()
    provider_name = fields.String()
    name = fields.String()
    approved_beds = fields.Integer()
    designation = fields.String()
    sexes = fields.List(fields.String())
    min_age = fields.Integer()
    max_age = fields.Integer()
    specialisms = fields.List(fields.String())
    staffed_beds = fields.Integer()
    occupied_beds = fields.Integer()
    reserved_beds = fields.Integer()
    free_beds = fields.Integer()
    out_of_use_reason = fields.String(allow_none=True)
    resident_flags = fields.Dict(keys=fields.String(), values=fields.Integer())
    updated_at = fields.DateTime()
    updated_by = fields.String(
        allow_none=True,
        metadata={"description": "who last changed the counts: shown to the unit's home and "
                  "admins only, null for every other caller"},
    )  # fmt: skip
    stale = fields.Boolean()
    version = fields.Integer()


class UnitQuerySchema(Schema):
    """Filters of the unit list."""

    provider_id = fields.String()
    designation = one_of(DESIGNATIONS)
    sex = one_of(SEXES)
    age = fields.Integer(validate=validate.Range(0, 25))
    has_free_bed = fields.Boolean()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> units.UnitFilter:
        """Build the filter."""
        return units.UnitFilter(**data)


KEPT_WHEN_OMITTED = ("out_of_use_reason", "resident_flags")


class AvailabilityUpdateSchema(Schema):
    """A provider's report of a unit's beds: staffed and occupied replace the unit's; an omitted
    out_of_use_reason or resident_flags keeps the unit's own (send null or {} to clear it)."""

    staffed_beds = StrictInteger(required=True, validate=validate.Range(min=0, max=1000))
    occupied_beds = StrictInteger(required=True, validate=validate.Range(min=0, max=1000))
    out_of_use_reason = one_of(
        OUT_OF_USE_REASONS,
        allow_none=True,
        metadata={"description": "required when staffed < approved; omitted: the unit's is kept"},
    )
    resident_flags = flag_counts(
        metadata={"description": "residents per flag, each <= occupied; omitted: kept as they are"}
    )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> availability.AvailabilityUpdate:
        """Build the update, naming the fields left out so that the unit keeps them."""
        kept = frozenset(name for name in KEPT_WHEN_OMITTED if name not in data)
        return availability.AvailabilityUpdate(**data, kept=kept)


class HistoryEntrySchema(Schema):
    """A unit's counts after one change."""

    at = fields.DateTime()
    by = fields.String(
        allow_none=True,
        metadata={"description": "who changed the counts (a token's label): shown to the unit's "
                  "home and admins only, null for every other caller"},
    )  # fmt: skip
    cause = fields.String()
    staffed_beds = fields.Integer()
    occupied_beds = fields.Integer()
    reserved_beds = fields.Integer()
    free_beds = fields.Integer()
    out_of_use_reason = fields.String(allow_none=True)
    resident_flags = fields.Dict(keys=fields.String(), values=fields.Integer())
    version = fields.Integer()


class TotalsSchema(Schema):
    """Bed totals."""

    approved = fields.Integer()
    staffed = fields.Integer()
    occupied = fields.Integer()
    reserved = fields.Integer()
    free = fields.Integer()


class StaleHomeSchema(Schema):
    """A home whose counts are out of date."""

    id = fields.String()
    name = fields.String()
    oldest_update = fields.DateTime()


class SummarySchema(Schema):
    """National and per-nation totals by designation (and `all`), and stale homes."""

    national = fields.Dict(keys=fields.String(), values=fields.Nested(TotalsSchema))
    nations = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(), values=fields.Nested(TotalsSchema)),
    )
    stale_homes = fields.List(fields.Nested(StaleHomeSchema))


@blp.route("")
class Units(MethodView):
    """The estate's units."""

    @operation("units.list")
    @blp.arguments(UnitQuerySchema, location="query")
    @blp.response(200, UnitSchema(many=True))
    def get(self, query: units.UnitFilter) -> Any:
        """List units, filtered by designation, sex, age or free beds."""
        return units.list_units(sessions(), actor(), query, settings=settings(), now=now())


@blp.route("/<provider_id>/<unit_slug>/availability/history")
class History(MethodView):
    """A unit's availability history."""

    @operation("units.history")
    @blp.arguments(PageSchema, location="query")
    @blp.response(200, HistoryEntrySchema(many=True))
    def get(self, page: dict[str, int], provider_id: str, unit_slug: str) -> Any:
        """List a unit's availability changes, newest first."""
        return availability.history(sessions(), actor(), f"{provider_id}/{unit_slug}", **page)


@blp.route("/<provider_id>/<unit_slug>/availability")
class Availability(MethodView):
    """A unit's live bed counts."""

    @operation("units.update_availability")
    @blp.arguments(AvailabilityUpdateSchema)
    @blp.response(200, UnitSchema, headers=ETAG_HEADER_DOC)
    @blp.alt_response(412, description="If-Match is not the current ETag")
    @blp.alt_response(428, description="If-Match is missing")
    @blp.doc(parameters=[IF_MATCH_DOC])
    def put(self, change: availability.AvailabilityUpdate, provider_id: str, unit_slug: str) -> Any:
        """Report a unit's staffed and occupied beds (the unit's provider or admin)."""
        unit = availability.update_availability(
            sessions(),
            actor(),
            f"{provider_id}/{unit_slug}",
            change,
            expected_version=expected_version(),
            settings=settings(),
            now=now(),
        )
        return unit, 200, {"ETag": etag_of(unit.version)}


@blp.route("/<provider_id>/<unit_slug>")
class UnitById(MethodView):
    """One unit."""

    @operation("units.get")
    @blp.response(200, UnitSchema, headers=ETAG_HEADER_DOC)
    @blp.alt_response(304, description="If-None-Match names the current version")
    def get(self, provider_id: str, unit_slug: str) -> Any:
        """Read a unit (id `<provider_id>/<unit_slug>`) and its availability, with its ETag."""
        unit_id = f"{provider_id}/{unit_slug}"
        unit = units.get_unit(sessions(), actor(), unit_id, settings=settings(), now=now())
        return with_etag(unit, unit.version)


@summary_blp.route("/summary")
class AvailabilitySummary(MethodView):
    """Totals of the whole estate."""

    @operation("availability.summary")
    @summary_blp.response(200, SummarySchema)
    def get(self) -> Any:
        """National and per-nation bed totals by designation, and the stale homes."""
        return availability.summary(sessions(), actor(), settings=settings(), now=now())
