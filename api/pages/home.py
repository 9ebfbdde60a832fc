"""Pages of the role 'provider'."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from api.pages.guard import for_roles

blp = Blueprint("home", __name__, url_prefix="/home")
# The role's service navigation: (text, endpoint).
NAVIGATION = [("Your home", "pages.home.dashboard")]


@blp.get("")
@for_roles("provider")
def dashboard() -> Any:
    """The role's start page."""
    return render_template("pages/home/dashboard.html", title="Your home")
