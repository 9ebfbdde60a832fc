"""Field types shared by the API's schemas: strict numbers, vocabularies, moments, paging."""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from placements.ids import SLUG_PATTERN, SLUG_RULE


class StrictInteger(fields.Integer):
    """An integer that refuses strings, floats and booleans."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool):
            raise ValidationError("Not a valid integer.")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictNumber(fields.Float):
    """A JSON number: refuses strings and booleans, and NaN or infinity."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_nan", False)
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool | str):
            raise ValidationError("Not a valid number.")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBoolean(fields.Boolean):
    """A JSON true or false: refuses strings and numbers."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise ValidationError("Not a valid boolean: true or false.")
        return value


def one_of(choices: tuple[str, ...], **kwargs: Any) -> fields.String:
    """A string restricted to a vocabulary."""
    return fields.String(validate=validate.OneOf(choices), **kwargs)


SLUG = validate.Regexp(SLUG_PATTERN + r"\Z", error=SLUG_RULE)  # \Z: no newline at the end
RANGE_ERROR = "the year must be from 2000 to 2100, as written"
YEAR_PATTERN = "^(20[0-9]{2}|2100)-"  # the OpenAPI document says the same: one rule, two readers


class UtcMoment(fields.AwareDateTime):
    """An aware date-time written in the years 2000 to 2100, turned into UTC once read (so every
    answer speaks UTC)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        loaded = super()._deserialize(value, attr, data, **kwargs)
        if not re.match(YEAR_PATTERN, value):
            raise ValidationError(RANGE_ERROR)
        return loaded.astimezone(UTC)


def moment(**kwargs: Any) -> fields.AwareDateTime:
    """A date-time with a time zone (UTC assumed when none is given), written from 2000 to 2100."""
    return UtcMoment(default_timezone=UTC, **kwargs)


def latitude(**kwargs: Any) -> fields.Float:
    """A latitude in degrees."""
    return StrictNumber(validate=validate.Range(-90, 90), **kwargs)


def longitude(**kwargs: Any) -> fields.Float:
    """A longitude in degrees."""
    return StrictNumber(validate=validate.Range(-180, 180), **kwargs)


class PageSchema(Schema):
    """Paging of a list: `page` from 1, `page_size` up to 100."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))
