"""Form fields of the pages shared by several roles: number boxes that may be left empty."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from wtforms import FloatField, IntegerField
from wtforms.fields import Field


def read_number(field: Field, valuelist: list[Any], parse: Callable[[str], float], words: str,
                ) -> None:  # fmt: skip
    """Set a field's data from its box: None when empty, else the number; anything else is an
    error in words ('Staffed beds must be a whole number, like 6')."""
    text = str(valuelist[0]).strip() if valuelist else ""
    field.data = None
    if not text:
        return
    try:
        value = parse(text)
    except ValueError:
        raise ValueError(f"{field.label.text} must be {words}") from None
    if not math.isfinite(value):
        raise ValueError(f"{field.label.text} must be {words}")
    field.data = value


class CountField(IntegerField):  # type: ignore[misc]
    """A whole number (of beds, of residents); an empty box is no answer, not an error here."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Read the box."""
        read_number(self, valuelist, int, "a whole number, like 6")


class LevelField(FloatField):  # type: ignore[misc]
    """A number such as a threshold level; an empty box is no level."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Read the box."""
        read_number(self, valuelist, float, "a number, like 25")
