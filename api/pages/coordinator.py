"""Pages of the role 'admin'."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from api.pages.guard import for_roles

blp = Blueprint("coordinator", __name__, url_prefix="/coordinator")
# The role's service navigation: (text, endpoint).
NAVIGATION = [("National bed board", "pages.coordinator.dashboard")]


@blp.get("")
@for_roles("admin")
def dashboard() -> Any:
    """The role's start page."""
    return render_template("pages/coordinator/dashboard.html", title="National bed board")
