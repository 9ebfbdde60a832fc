"""The start page, signing in with an emailed one-time link, signing out, and the assets."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask import session as browser_session
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Regexp

from api.context import now, service
from api.pages import errors
from api.pages.guard import HOME_OF_ROLE
from api.pages.session import signed_in
from placements import people

blp = Blueprint("start", __name__)
ASSETS = __import__("pathlib").Path(__file__).parent / "static" / "vendor" / "assets"


class SignInForm(FlaskForm):  # type: ignore[misc]
    """The address to send a sign-in link to."""

    email = StringField(
        "Email address",
        validators=[
            DataRequired("Enter your email address"),
            Length(max=254, message="Email address must be 254 characters or fewer"),
            Regexp(
                people.EMAIL.pattern,
                message="Enter an email address in the correct format, like name@example.org",
            ),
        ],
    )


class ConfirmForm(FlaskForm):  # type: ignore[misc]
    """Spend the link (a POST, so that a mail scanner opening the link signs nobody in)."""


@blp.get("/")
def index() -> Any:
    """The start page; a signed-in person goes to their own start."""
    person = signed_in()
    if person is not None:
        return redirect(url_for(HOME_OF_ROLE[person.actor.role]))
    return render_template("pages/start.html")


@blp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    """Ask for a sign-in link; the answer is the same whether or not the address is known."""
    form = SignInForm()
    if form.validate_on_submit():
        address = people.normal_email(form.email.data or "")
        asked = people.request_link(
            service().sessions, service().settings, address, request.remote_addr or "unknown",
            link_base=service().settings.public_url, now=now(),
        )  # fmt: skip
        if asked.limited:
            return errors.page(
                429,
                "There have been too many requests for a sign-in link. Wait 15 minutes, then "
                "try again.",
                headers={"Retry-After": str(int(people.RATE_WINDOW.total_seconds()))},
            )
        return render_template("pages/sign_in_sent.html", email=address)
    status = 422 if form.errors else 200
    return render_template("pages/sign_in.html", form=form), status


@blp.get("/sign-in/<key>")
def confirm(key: str) -> Any:
    """Ask the person to confirm: opening the link alone signs nobody in."""
    if len(key) > 100 or not people.link_is_live(service().sessions, key, now=now()):
        return link_refused()
    return render_template("pages/sign_in_confirm.html", form=ConfirmForm(), key=key)


@blp.post("/sign-in/<key>")
def use_link(key: str) -> Any:
    """Spend the link and start a session: the visitor's old session, if any, is ended."""
    session_key = None if len(key) > 100 else people.redeem_link(service().sessions, key, now=now())
    if session_key is None:
        return link_refused()
    old = getattr(browser_session, "key", None)
    if old:
        people.end_session(service().sessions, old, now=now())
    browser_session.clear()
    g.new_session_key = session_key
    return redirect(url_for("pages.start.index"))


def link_refused() -> Any:
    """A used, expired or unknown link: ask for a new one."""
    return errors.page(
        400,
        "This sign-in link has already been used or has expired. Links work once, for 15 "
        "minutes. Ask for a new link.",
    )


@blp.post("/sign-out")
def sign_out() -> Any:
    """End the session."""
    key = getattr(browser_session, "key", None)
    if key:
        people.end_session(service().sessions, key, now=now())
    browser_session.clear()
    browser_session.signed_in = None  # type: ignore[attr-defined]
    g.signed_out = True
    return render_template("pages/signed_out.html", signed_out_view=True)


@blp.get("/assets/<path:filename>")
def assets(filename: str) -> Any:
    """GOV.UK Frontend's fonts and images (copied from npm by `make install`)."""
    return send_from_directory(ASSETS, filename, max_age=3600)


def note(message: str) -> None:
    """A success message shown once on the next page (a GOV.UK notification banner)."""
    flash(message, "success")
