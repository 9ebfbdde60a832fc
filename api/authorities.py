"""Placing local authorities."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.context import actor, now, sessions
from api.fields import latitude, longitude, one_of
from api.roles import operation
from placements import authorities
from placements.vocabulary import NATIONS

blp = Blueprint(
    "local-authorities",
    __name__,
    url_prefix="/local-authorities",
    description="Placing local authorities",
)


class AuthoritySchema(Schema):
    """A local authority."""

    id = fields.String()
    name = fields.String()
    nation = fields.String()
    lat = fields.Float()
    lon = fields.Float()


class AuthorityRegistrationSchema(Schema):
    """A local authority as registered."""

    name = fields.String(required=True, validate=validate.Length(1, 200))
    nation = one_of(NATIONS, required=True)
    lat = latitude(required=True)
    lon = longitude(required=True)


@blp.route("")
class Authorities(MethodView):
    """All local authorities."""

    @operation("authorities.list")
    @blp.response(200, AuthoritySchema(many=True))
    def get(self) -> Any:
        """List the local authorities."""
        return authorities.list_authorities(sessions(), actor())


@blp.route("/<authority_id>")
class AuthorityById(MethodView):
    """One local authority."""

    @operation("authorities.get")
    @blp.response(200, AuthoritySchema)
    def get(self, authority_id: str) -> Any:
        """Read a local authority."""
        return authorities.get_authority(sessions(), actor(), authority_id)

    @operation("authorities.register")
    @blp.arguments(AuthorityRegistrationSchema)
    @blp.response(200, AuthoritySchema)
    def put(self, body: dict[str, Any], authority_id: str) -> Any:
        """Register or update a local authority (admin)."""
        spec = authorities.AuthoritySpec(id=authority_id, **body)
        return authorities.register(sessions(), actor(), spec, now=now()).authority
