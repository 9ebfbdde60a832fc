"""Pages of the role 'panel'."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from api.pages.guard import for_roles

blp = Blueprint("panel", __name__, url_prefix="/panel")
# The role's service navigation: (text, endpoint).
NAVIGATION = [("Your panel's meetings", "pages.panel.dashboard")]


@blp.get("")
@for_roles("panel")
def dashboard() -> Any:
    """The role's start page."""
    return render_template("pages/panel/dashboard.html", title="Your panel's meetings")
