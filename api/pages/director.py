"""Pages of the role 'director'."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from api.pages.guard import for_roles

blp = Blueprint("director", __name__, url_prefix="/director")
# The role's service navigation: (text, endpoint).
NAVIGATION = [("Your authority's requests", "pages.director.dashboard")]


@blp.get("")
@for_roles("director")
def dashboard() -> Any:
    """The role's start page."""
    return render_template("pages/director/dashboard.html", title="Your authority's requests")
