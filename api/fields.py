"""Field types shared by the API's schemas: strict integers, vocabularies, paging."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate


class StrictInteger(fields.Integer):
    """An integer that refuses strings, floats and booleans."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool):
            raise ValidationError("Not a valid integer.")
        return super()._deserialize(value, attr, data, **kwargs)


def one_of(choices: tuple[str, ...], **kwargs: Any) -> fields.String:
    """A string restricted to a vocabulary."""
    return fields.String(validate=validate.OneOf(choices), **kwargs)


def latitude(**kwargs: Any) -> fields.Float:
    """A latitude in degrees."""
    return fields.Float(validate=validate.Range(-90, 90), allow_nan=False, **kwargs)


def longitude(**kwargs: Any) -> fields.Float:
    """A longitude in degrees."""
    return fields.Float(validate=validate.Range(-180, 180), allow_nan=False, **kwargs)


class PageSchema(Schema):
    """Paging of a list: `page` from 1, `page_size` up to 100."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))
