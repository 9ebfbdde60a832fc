"""The `placements` command line: the one place that wires configuration, the app and the jobs."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext

from api import create_app
from api.context import service
from placements import ids, jobs, people, scheduler, seeding, tokens
from placements.auth import ROLES, Actor
from placements.clock import EARLIEST, LATEST
from placements.errors import PlacementsError
from placements.migrations import upgrade

CLI_ACTOR = Actor(label="cli", role="admin")
# A job run by hand may be given a clock this far ahead of the service's without --allow-future.
FUTURE_SLACK = timedelta(minutes=5)


def _app(*_: Any) -> Flask:
    try:
        return create_app()
    except PlacementsError as error:
        _fail(error)
        raise  # unreachable: _fail raises


def _now() -> datetime:
    """The service's clock (PLACEMENTS_CLOCK; the system clock unless set)."""
    return service().clock.now()


def _fail(error: PlacementsError) -> None:
    details = "; ".join(f"{k}: {' '.join(v)}" for k, v in (error.errors or {}).items())
    raise click.ClickException(error.message + (f" ({details})" if details else ""))


@click.group(cls=FlaskGroup, create_app=_app, add_default_commands=False)
def cli() -> None:
    """Secure-accommodation placements: database, seed, tokens, server."""


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Migrate the database (PLACEMENTS_DATABASE_URL) to the latest schema."""
    upgrade(service().settings.database_url)
    click.echo("database is at the latest revision")


@cli.command("seed")
@with_appcontext
def seed() -> None:
    """Load the homes and authorities of seed/ (a second run changes nothing)."""
    result = seeding.seed(service().sessions, now=_now())
    click.echo(
        f"providers: {result.providers_changed} created or changed, "
        f"{result.providers_unchanged} unchanged; authorities: {result.authorities_changed} "
        f"created or changed, {result.authorities_unchanged} unchanged; panels: "
        f"{result.panels_changed} created or changed, {result.panels_unchanged} unchanged"
    )


@cli.group("tokens")
def tokens_group() -> None:
    """API tokens."""


@tokens_group.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--authority", "authority_id", help="the director's local authority")
@click.option("--provider", "provider_id", help="the provider's home")
@click.option("--panel", "panel_id", help="the panel member's panel")
@click.option(
    "--label",
    help="a unique name for the token (default: generated); for role panel, the member's email,"
    " optionally followed by '#anything'",
)
@with_appcontext
def tokens_create(
    role: str,
    authority_id: str | None,
    provider_id: str | None,
    panel_id: str | None,
    label: str | None,
) -> None:
    """Issue a token; it is printed once, alone on the last line."""
    request = tokens.TokenRequest(role, authority_id, provider_id, panel_id, label)
    try:
        issued = tokens.create(service().sessions, CLI_ACTOR, request, now=_now())
    except PlacementsError as error:
        _fail(error)
    click.echo(f"label: {issued.label} role: {issued.role} scope: {issued.scope or 'all'}")
    click.echo(issued.token)


@tokens_group.command("revoke")
@click.argument("label")
@with_appcontext
def tokens_revoke(label: str) -> None:
    """Revoke the token with this label."""
    try:
        done = tokens.revoke(service().sessions, CLI_ACTOR, label, now=_now())
    except PlacementsError as error:
        _fail(error)
    click.echo(f"revoked {label}" if done else f"{label} was already revoked")


@tokens_group.command("demo")
@with_appcontext
def tokens_demo() -> None:
    """Issue fresh demo tokens, one per role, and print them."""
    issued = tokens.issue_demo(service().sessions, CLI_ACTOR, now=_now())
    click.echo("Demo tokens (use as 'Authorization: Bearer <token>'):")
    for token in issued:
        click.echo(f"  {token.label:<28} {token.token}")


@cli.group("users")
def users_group() -> None:
    """People who sign in to the pages with an emailed link."""


@users_group.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--authority", "authority_id", help="a director's local authority")
@click.option("--provider", "provider_id", help="a home's provider")
@click.option("--panel", "panel_id", help="a panel member's panel")
@click.option("--name", help="the name the pages show (default: the email address)")
@with_appcontext
def users_add(email: str, role: str, authority_id: str | None, provider_id: str | None,
              panel_id: str | None, name: str | None) -> None:  # fmt: skip
    """Add a person who may sign in with their email address."""
    spec = people.PersonSpec(email, role, authority_id, provider_id, panel_id, name)
    try:
        added = people.add(service().sessions, CLI_ACTOR, spec, now=_now())
    except PlacementsError as error:
        _fail(error)
    click.echo(f"added {added.email} role: {added.role} scope: {added.scope or 'all'}")


@users_group.command("list")
@with_appcontext
def users_list() -> None:
    """List everyone who may sign in (or could, before they were disabled)."""
    for person in people.list_people(service().sessions, CLI_ACTOR):
        state = f"disabled {person.disabled_at.isoformat()}" if person.disabled_at else "active"
        click.echo(f"{person.email:<40} {person.role:<9} {person.scope or 'all':<24} {state}"
                   f"  {person.name or ''}".rstrip())  # fmt: skip


@users_group.command("disable")
@click.argument("email")
@with_appcontext
def users_disable(email: str) -> None:
    """Stop a person signing in; their sessions end at their next request."""
    try:
        done = people.disable(service().sessions, CLI_ACTOR, email, now=_now())
    except PlacementsError as error:
        _fail(error)
    click.echo(f"disabled {email}" if done else f"{email} was already disabled")


@users_group.command("link")
@click.argument("email")
@with_appcontext
def users_link(email: str) -> None:
    """Print a one-time sign-in link for a person (for when no email can be sent)."""
    try:
        key = people.issue_link(service().sessions, CLI_ACTOR, email, now=_now())
    except PlacementsError as error:
        _fail(error)
    click.echo(f"{service().settings.public_url}/sign-in/{key}")


@users_group.command("demo")
@with_appcontext
def users_demo() -> None:
    """Add the demo people (one per role, example.org) and print a sign-in link for each."""
    click.echo("Demo sign-in links (each works once, for 15 minutes; `placements users link "
               "EMAIL` prints a new one):")  # fmt: skip
    for spec in DEMO_PEOPLE:
        person = people.ensure(service().sessions, CLI_ACTOR, spec, now=_now())
        key = people.issue_link(service().sessions, CLI_ACTOR, person.email, now=_now())
        click.echo(f"  {person.role:<9} {person.email:<36} "
                   f"{service().settings.public_url}/sign-in/{key}")  # fmt: skip


DEMO_PEOPLE = (
    people.PersonSpec("coordinator@example.org", "admin", name="Nia Coordinator"),
    people.PersonSpec(
        "director.southwark@example.org", "director", authority_id="southwark", name="Sam Director"
    ),
    people.PersonSpec(
        "manager.clare-lodge@example.org", "provider", provider_id="clare-lodge", name="Pat Manager"
    ),
    people.PersonSpec(
        "chair.southwark@example.org", "panel", panel_id="review-southwark", name="Alex Example"
    ),
)


@cli.command("solve", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def solve(args: tuple[str, ...]) -> None:
    """Solve a matcher instance file (same as `python -m solver solve`)."""
    from solver.__main__ import main as solver_main

    sys.exit(solver_main(["solve", *args]))


@cli.command("rank", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def rank(args: tuple[str, ...]) -> None:
    """Rank the units for one child of an instance file (same as `python -m solver rank`)."""
    from solver.__main__ import main as solver_main

    sys.exit(solver_main(["rank", *args]))


@cli.command("simulate", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def simulate(args: tuple[str, ...]) -> None:
    """Simulate a year of placements under each policy (docs/simulation.md)."""
    from api.simulate import main as simulate_main

    sys.exit(simulate_main(list(args)))


@cli.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run the scheduled jobs; with another scheduler on the database, stand by until it dies."""
    scheduler.run(service().sessions, service().settings, clock=service().clock,
                  id_source=service().ids)  # fmt: skip


@cli.group("jobs")
def jobs_group() -> None:
    """Scheduled jobs, run once by hand."""


@jobs_group.command("run")
@click.argument("name", type=click.Choice(list(jobs.JOBS)))
@click.option("--now", "at", help="the job's clock, ISO 8601 (default: now; UTC without offset)")
@click.option(
    "--allow-future",
    is_flag=True,
    help="accept a --now more than 5 minutes ahead of the service's clock (the job then writes"
    " future-dated meetings and audit rows)",
)
@with_appcontext
def jobs_run(name: str, at: str | None, allow_future: bool) -> None:
    """Run one job once, with the given clock."""
    current = _now()
    moment = _instant(at) if at is not None else current
    if moment > current + FUTURE_SLACK and not allow_future:
        raise click.BadParameter(
            f"{at!r} is more than 5 minutes ahead of the service's clock ({current.isoformat()});"
            " pass --allow-future to run the job in the future",
            param_hint="--now",
        )
    try:
        with ids.using(service().ids):
            result = jobs.run(name, service().sessions, service().settings, now=moment)
    except PlacementsError as error:
        _fail(error)
    click.echo(f"{name} at {moment.isoformat()}: {result}")


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 time", param_hint="--now") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if not EARLIEST <= moment <= LATEST:
        raise click.BadParameter(f"{text!r} is not between 2000 and 2100", param_hint="--now")
    return moment.astimezone(UTC)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--read-timeout",
    default=20.0,
    show_default=True,
    type=click.FloatRange(0.5, 600),
    help="seconds a client has to send a request's head and body (then 408)",
)
def serve(host: str, port: int, workers: int, threads: int, read_timeout: float) -> None:
    """Serve the API with gunicorn (gthread workers that read each request before a thread
    takes it, so slow clients hold no thread)."""
    from api.server import serve as run_server

    run_server(host=host, port=port, workers=workers, threads=threads, read_timeout=read_timeout)


def main(argv: list[str] | None = None) -> None:
    """Run the command line."""
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="placements")
