"""Placement requests: directors ask, read ranked options, offer, record orders, admit, withdraw."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from api.admissions import PlacementSchema
from api.context import actor, now, sessions, settings
from api.fields import (
    PageSchema,
    StrictBoolean,
    StrictInteger,
    StrictNumber,
    latitude,
    longitude,
    moment,
    one_of,
)
from api.offers import OfferSchema
from api.paging import PAGINATION_HEADER_DOC, paged
from api.roles import operation
from placements import admissions, matching, offers, requests
from placements.vocabulary import (
    COURT_ORDER_KINDS,
    FLAGS,
    GROUNDS,
    LEGAL_BASES,
    ORDER_KINDS,
    REQUEST_STATUSES,
    SEXES,
    SPECIALISMS,
)

blp = Blueprint("requests", __name__, url_prefix="/requests", description="Placement requests")

CASE_REFERENCE = validate.Regexp(
    r"[A-Za-z0-9][A-Za-z0-9/_.\-]{0,63}\Z",  # \Z: no newline at the end
    error="the authority's case reference: letters, digits and / _ . - only (never a name)",
)


class PointSchema(Schema):
    """A position."""

    lat = latitude(required=True)
    lon = longitude(required=True)


class ZoneSchema(PointSchema):
    """A place the child must be kept away from."""

    radius_km = StrictNumber(required=True, validate=validate.Range(0.1, 1000))


class LegalAuthoritySchema(Schema):
    """What authorises the placement: none, an interim or full order (welfare), a remand (remand)
    or a sentence (sentence)."""

    kind = one_of(ORDER_KINDS, required=True)
    granted_at = moment(load_default=None, allow_none=True)
    expires_at = moment(load_default=None, allow_none=True)
    renewal = StrictBoolean(load_default=False)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> requests.LegalAuthority:
        """Build the authority."""
        return requests.LegalAuthority(**data)


def vocabulary(choices: tuple[str, ...]) -> Any:
    """A list of terms from a vocabulary."""
    return fields.List(one_of(choices), validate=validate.Length(max=len(choices)))


class RequestFieldsSchema(Schema):
    """The facts of a request."""

    case_reference = fields.String(validate=CASE_REFERENCE)
    age = StrictInteger(validate=validate.Range(10, 17))
    sex = one_of(SEXES)
    legal_basis = one_of(LEGAL_BASES)
    grounds = vocabulary(GROUNDS)
    needs = vocabulary(SPECIALISMS)
    flags = vocabulary(FLAGS)
    under_13_approval = fields.String(validate=validate.Length(1, 200), allow_none=True)
    home = fields.Nested(PointSchema)
    max_distance_km = StrictNumber(validate=validate.Range(1, 2000), allow_none=True)
    exclusion_zones = fields.List(fields.Nested(ZoneSchema), validate=validate.Length(max=10))
    authority = fields.Nested(LegalAuthoritySchema)
    needed_by = moment(allow_none=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Any:
        """The changed facts, in the facts' types."""
        return normalise(data)


def normalise(data: dict[str, Any]) -> dict[str, Any]:
    """Turn loaded values into the types of RequestFacts."""
    for key in ("grounds", "needs", "flags"):
        if key in data:
            data[key] = tuple(data[key])
    if data.get("home"):
        data["home"] = (data["home"]["lat"], data["home"]["lon"])
    if "exclusion_zones" in data:
        data["exclusion_zones"] = tuple(requests.Zone(**z) for z in data["exclusion_zones"])
    return data


class RequestCreateSchema(RequestFieldsSchema):
    """A new request; case_reference, age, sex and legal_basis are required."""

    case_reference = fields.String(required=True, validate=CASE_REFERENCE)
    age = StrictInteger(required=True, validate=validate.Range(10, 17))
    sex = one_of(SEXES, required=True)
    legal_basis = one_of(LEGAL_BASES, required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Any:
        """Build the facts."""
        return requests.RequestFacts(**normalise(data))


class IdempotencySchema(Schema):
    """The optional Idempotency-Key header."""

    class Meta:
        unknown = EXCLUDE

    key = fields.String(data_key="Idempotency-Key", validate=validate.Length(1, 200))


class RequestQuerySchema(PageSchema):
    """Filters and page of the request list."""

    status = one_of(REQUEST_STATUSES)
    stale = fields.Boolean()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> requests.RequestFilter:
        """Build the filter."""
        return requests.RequestFilter(**data)


class CourtOrderSchema(Schema):
    """A new or renewed court order; granted_at must not be in the future."""

    kind = one_of(COURT_ORDER_KINDS, required=True)
    granted_at = moment(required=True)
    expires_at = moment(required=True)
    renewal = StrictBoolean(load_default=False)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> requests.LegalAuthority:
        """Build the order."""
        return requests.LegalAuthority(**data)


class OrderOutSchema(Schema):
    """A court order recorded on the request."""

    id = fields.String()
    kind = fields.String()
    granted_at = fields.DateTime()
    expires_at = fields.DateTime()
    renewal = fields.Boolean()
    recorded_at = fields.DateTime()
    recorded_by = fields.String()


class ReservationSchema(Schema):
    """The accepted offer and unit holding a reserved request's bed."""

    offer_id = fields.String()
    unit_id = fields.String()
    provider_id = fields.String()


class LegalAuthorityOutSchema(Schema):
    """The placement's legal authority as stored."""

    kind = fields.String()
    granted_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)
    renewal = fields.Boolean()


class RequestSchema(Schema):
    """A request with its status and statutory clocks."""

    id = fields.String()
    authority_id = fields.String()
    case_reference = fields.String()
    status = fields.String()
    age = fields.Integer()
    sex = fields.String()
    legal_basis = fields.String()
    grounds = fields.List(fields.String())
    needs = fields.List(fields.String())
    flags = fields.List(fields.String())
    under_13_approval = fields.String(allow_none=True)
    home = fields.Dict(keys=fields.String(), values=fields.Float())
    max_distance_km = fields.Float(allow_none=True)
    exclusion_zones = fields.List(fields.Dict())
    authority = fields.Nested(LegalAuthorityOutSchema)
    needed_by = fields.DateTime(allow_none=True)
    declined_by = fields.List(fields.String())
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    hours_without_order_last_28_days = fields.Float(
        metadata={"description": "hours in secure accommodation with no order in force (an "
                  "expired order counts as none), over the last 28 days, across the child's "
                  "requests"}
    )  # fmt: skip
    without_order_warning = fields.Boolean(metadata={"description": "48 of the 72 hours reached"})
    without_order_breach = fields.Boolean(
        metadata={"description": "more than 72 hours without an order in 28 days: unlawful"}
    )
    order_expires_at = fields.DateTime(allow_none=True)
    order_expiring = fields.Boolean(
        metadata={"description": "reserved or placed, and the order runs out within 7 days"}
    )
    order_expired = fields.Boolean(
        metadata={"description": "reserved or placed, and the order has run out"}
    )
    orders = fields.List(fields.Nested(OrderOutSchema))
    next_review_due = fields.DateTime(allow_none=True)
    stale = fields.Boolean()
    placement_id = fields.String(allow_none=True)
    reservation = fields.Nested(ReservationSchema, allow_none=True)


class OptionSchema(Schema):
    """An eligible unit with its score and the score's parts."""

    unit_id = fields.String()
    unit_name = fields.String()
    provider_id = fields.String()
    provider_name = fields.String()
    score = fields.Integer()
    distance_km = fields.Float()
    breakdown = fields.Dict(keys=fields.String(), values=fields.Integer())


class ExcludedSchema(Schema):
    """An ineligible unit with every reason that applies."""

    unit_id = fields.String()
    unit_name = fields.String()
    provider_name = fields.String()
    reasons = fields.List(fields.String())


def _picked(item: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: item[name] for name in names if name in item}


class OptionsSchema(Schema):
    """Ranked options and excluded units."""

    request_id = fields.String()
    options = fields.List(fields.Nested(OptionSchema))
    excluded = fields.List(fields.Nested(ExcludedSchema))

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        """A ranking as the fields above declare it, picked from its plain values.

        The ranking holds only strings, ints, floats and lists and dicts of them, so picking the
        declared keys gives what marshmallow's field-by-field dump gives, at a fraction of its
        cost (which exceeded the ranking's own); tests/api/test_options_dump.py checks they agree.
        """
        if many or not isinstance(obj, matching.OptionsView):
            return super().dump(obj, many=many)
        return {
            "request_id": obj.request_id,
            "options": [_picked(o, OPTION_FIELDS) for o in obj.options],
            "excluded": [_picked(e, EXCLUDED_FIELDS) for e in obj.excluded],
        }


OPTION_FIELDS = tuple(OptionSchema().fields)
EXCLUDED_FIELDS = tuple(ExcludedSchema().fields)


class OfferCreateSchema(Schema):
    """Offer to named units, or to the `top` best options (default 3)."""

    openapi_constraints = {"maxProperties": 1}  # unit_ids or top, not both

    unit_ids = fields.List(fields.String(), validate=validate.Length(1, 20))
    top = StrictInteger(validate=validate.Range(1, 20))

    @validates_schema
    def one_way(self, data: dict[str, Any], **_: Any) -> None:
        """Either unit_ids or top, not both."""
        if "unit_ids" in data and "top" in data:
            raise ValidationError("give unit_ids or top, not both", field_name="top")

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> offers.OfferChoice:
        """Build the choice."""
        return offers.OfferChoice(tuple(data.get("unit_ids", ())), data.get("top"))


class AdmissionSchema(Schema):
    """When the child arrived."""

    admitted_at = moment(required=True)


@blp.route("")
class Requests(MethodView):
    """Requests of the director's authority (admin: all)."""

    @operation("requests.list")
    @blp.arguments(RequestQuerySchema, location="query")
    @blp.response(200, RequestSchema(many=True), headers=PAGINATION_HEADER_DOC)
    def get(self, query: requests.RequestFilter) -> Any:
        """List requests, by status or staleness, oldest first, a page at a time."""
        return paged(requests.list_requests(sessions(), actor(), query, now=now()))

    @operation("requests.create")
    @blp.arguments(IdempotencySchema, location="headers")
    @blp.arguments(RequestCreateSchema)
    @blp.response(201, RequestSchema)
    @blp.alt_response(409, description="The case reference already has an open request")
    def post(self, headers: dict[str, str], facts: requests.RequestFacts) -> Any:
        """Request a placement for a child of the director's authority."""
        return requests.create(
            sessions(), actor(), facts, now=now(), idempotency_key=headers.get("key")
        )


@blp.route("/<request_id>")
class RequestById(MethodView):
    """One request."""

    @operation("requests.get")
    @blp.response(200, RequestSchema)
    def get(self, request_id: str) -> Any:
        """Read a request with its clocks."""
        return requests.get(sessions(), actor(), request_id, now=now())

    @operation("requests.update")
    @blp.arguments(RequestFieldsSchema)
    @blp.response(200, RequestSchema)
    @blp.alt_response(409, description="Not waiting or offered, or the new case reference is open")
    def patch(self, changes: dict[str, Any], request_id: str) -> Any:
        """Update a waiting or offered request's facts; offers they rule out are cancelled."""
        return requests.update_facts(
            sessions(), actor(), request_id, changes, settings=settings(), now=now()
        )


@blp.route("/<request_id>/withdraw")
class Withdraw(MethodView):
    """Withdrawal."""

    @operation("requests.withdraw")
    @blp.response(200, RequestSchema)
    @blp.alt_response(409, description="The request is placed or finished")
    def post(self, request_id: str) -> Any:
        """Withdraw a waiting, offered or reserved request (a reserved bed is released)."""
        return requests.withdraw(sessions(), actor(), request_id, now=now())


@blp.route("/<request_id>/orders")
class Orders(MethodView):
    """Court orders of the request."""

    @operation("requests.record_order")
    @blp.arguments(CourtOrderSchema)
    @blp.response(201, RequestSchema)
    def post(self, order: requests.LegalAuthority, request_id: str) -> Any:
        """Record a new or renewed court order, at any status; the clocks move with it."""
        return requests.record_order(
            sessions(), actor(), request_id, order, settings=settings(), now=now()
        )


@blp.route("/<request_id>/options")
class Options(MethodView):
    """Live ranking."""

    @operation("requests.options")
    @blp.response(200, OptionsSchema)
    def get(self, request_id: str) -> Any:
        """Rank every unit for the request on the live state, with reasons for exclusions."""
        return matching.options(sessions(), actor(), request_id, settings=settings(), now=now())


@blp.route("/<request_id>/offers")
class Offers(MethodView):
    """Offers of the request."""

    @operation("requests.offer")
    @blp.arguments(OfferCreateSchema)
    @blp.response(201, OfferSchema(many=True))
    def post(self, choice: offers.OfferChoice, request_id: str) -> Any:
        """Offer the child's placement to chosen units, or to the top k options."""
        return offers.create_offers(
            sessions(), actor(), request_id, choice, settings=settings(), now=now()
        )


@blp.route("/<request_id>/admission")
class Admission(MethodView):
    """Admission."""

    @operation("requests.admit")
    @blp.arguments(AdmissionSchema)
    @blp.response(201, PlacementSchema)
    @blp.alt_response(409, description="The request is not reserved")
    def post(self, body: dict[str, Any], request_id: str) -> Any:
        """Record the child's admission: the reserved bed becomes occupied."""
        return admissions.admit(sessions(), actor(), request_id, body["admitted_at"], now=now())
