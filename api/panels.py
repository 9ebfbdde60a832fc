"""Panels and their members: review panels of placing authorities and escalation panels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, post_load, validate

from api.context import actor, now, sessions
from api.fields import SLUG, StrictBoolean, one_of
from api.roles import operation
from placements import panels

blp = Blueprint("panels", __name__, url_prefix="/panels", description="Panels and their members")

KINDS = ("review", "escalation")
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
WEBHOOK_URL = validate.Regexp(
    rf"https?://{LABEL}(?:\.{LABEL})*(?::[0-9]{{1,5}})?(?:[/?#][\x21-\x7e]*)?\Z",
    error="an http or https URL: host name, optional port, path without spaces",
)
MEMBER_ROLES = ("chair", "member")


@dataclass(frozen=True)
class PanelCreation:
    """A new panel: its id (generated when absent) and registration."""

    id: str | None
    spec: panels.PanelSpec


class MemberSchema(Schema):
    """A panel member; `independent` when neither a member nor an officer of the authority."""

    name = fields.String(required=True, validate=validate.Length(1, 200))
    email = fields.Email(required=True, validate=validate.Length(3, 254))
    role = one_of(MEMBER_ROLES, load_default="member")
    independent = StrictBoolean(required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> panels.MemberSpec:
        """Build the member."""
        return panels.MemberSpec(**data)


class PanelSpecSchema(Schema):
    """A panel as registered; the webhook secret is write-only (`whsec_<base64>` or plain)."""

    name = fields.String(required=True, validate=validate.Length(1, 200))
    kind = one_of(KINDS, required=True)
    authority_id = fields.String(allow_none=True, load_default=None, validate=SLUG)
    region = fields.String(allow_none=True, load_default=None, validate=validate.Length(1, 100))
    members = fields.List(
        fields.Nested(MemberSchema), load_default=list, validate=validate.Length(max=50)
    )
    webhook_url = fields.String(
        allow_none=True, load_default=None, validate=[validate.Length(max=500), WEBHOOK_URL]
    )
    webhook_secret = fields.String(
        allow_none=True, load_default=None, load_only=True, validate=validate.Length(8, 200)
    )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> panels.PanelSpec:
        """Build the registration."""
        return panels.PanelSpec(**{**data, "members": tuple(data["members"])})


class PanelCreateSchema(PanelSpecSchema):
    """A new panel, with an optional id of the client's choosing."""

    id = fields.String(validate=SLUG)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> PanelCreation:
        """Build the creation."""
        panel_id = data.pop("id", None)
        members = tuple(data.pop("members"))
        return PanelCreation(panel_id, panels.PanelSpec(**data, members=members))


class MemberViewSchema(Schema):
    """A panel member."""

    name = fields.String()
    email = fields.String()
    role = fields.String()
    independent = fields.Boolean()


class PanelSchema(Schema):
    """A panel, and whether it can lawfully sit."""

    id = fields.String()
    name = fields.String()
    kind = fields.String()
    authority_id = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    members = fields.List(fields.Nested(MemberViewSchema))
    webhook_url = fields.String(allow_none=True)
    webhook_secret_set = fields.Boolean()
    can_sit = fields.Boolean()
    cannot_sit_reasons = fields.List(fields.String())
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


@blp.route("")
class Panels(MethodView):
    """All panels."""

    @operation("panels.list")
    @blp.response(200, PanelSchema(many=True))
    def get(self) -> Any:
        """List panels: all (admin), own (panel member), own and escalation ones (director)."""
        return panels.list_panels(sessions(), actor())

    @operation("panels.create")
    @blp.arguments(PanelCreateSchema)
    @blp.response(201, PanelSchema)
    def post(self, body: PanelCreation) -> Any:
        """Create a panel with its members (admin)."""
        return panels.create(sessions(), actor(), body.spec, panel_id=body.id, now=now())


@blp.route("/<panel_id>")
class PanelById(MethodView):
    """One panel."""

    @operation("panels.get")
    @blp.response(200, PanelSchema)
    def get(self, panel_id: str) -> Any:
        """Read a panel, its members and whether it can lawfully sit."""
        return panels.get_panel(sessions(), actor(), panel_id)

    @operation("panels.update")
    @blp.arguments(PanelSpecSchema)
    @blp.response(200, PanelSchema)
    def put(self, spec: panels.PanelSpec, panel_id: str) -> Any:
        """Replace a panel's name, members and webhook (admin); an omitted secret is kept."""
        return panels.update(sessions(), actor(), panel_id, spec, now=now())
