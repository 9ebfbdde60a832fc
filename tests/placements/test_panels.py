"""Panels: who sits on them, whether they can lawfully sit, and panel tokens."""

from __future__ import annotations

import pytest

from placements import authorities, panels, tokens
from placements.auth import SYSTEM
from placements.db import Sessions
from placements.errors import Conflict, InvalidInput, NotFound
from placements.panels import MemberSpec, PanelSpec
from tests.conftest import NOW

CHAIR = MemberSpec("Ann Example", "ann@example.org", "chair", False)
COUNCILLOR = MemberSpec("Bo Sample", "bo@example.org", "member", False)
INDEPENDENT = MemberSpec("Cy Testwell", "cy@example.org", "member", True)


def review_panel(*members: MemberSpec, authority_id: str = "surrey") -> PanelSpec:
    return PanelSpec("Review panel", "review", authority_id=authority_id, members=members)


@pytest.fixture
def testshire(seeded: Sessions) -> Sessions:
    """The seed plus an authority with no review panel yet."""
    spec = authorities.AuthoritySpec("testshire", "Testshire Council", "england", 52.0, -1.0)
    authorities.register(seeded, SYSTEM, spec, now=NOW)
    return seeded


def test_every_seeded_review_panel_can_lawfully_sit(seeded: Sessions) -> None:
    found = panels.list_panels(seeded, SYSTEM)
    reviews = [p for p in found if p.kind == "review"]
    assert len(reviews) == 14 and all(p.can_sit for p in reviews)
    assert all(len(p.members) >= 3 and any(m.independent for m in p.members) for p in reviews)
    assert [p.id for p in found if p.kind == "escalation"] == ["escalation-national"]


def test_a_review_panel_of_two_members_cannot_sit(seeded: Sessions) -> None:
    spec = review_panel(CHAIR, INDEPENDENT, authority_id="york")
    view = panels.update(seeded, SYSTEM, "review-york", spec, now=NOW)
    assert not view.can_sit
    assert view.cannot_sit_reasons == ["a review panel needs at least 3 members; it has 2"]


def test_a_review_panel_with_no_independent_member_cannot_sit(testshire: Sessions) -> None:
    spec = review_panel(CHAIR, COUNCILLOR, MemberSpec("Di", "di@example.org"),
                        authority_id="testshire")  # fmt: skip
    view = panels.create(testshire, SYSTEM, spec, now=NOW)
    assert not view.can_sit and "independent" in view.cannot_sit_reasons[0]
    assert view.id.startswith("PNL-")


def test_an_update_fixes_a_panel_and_an_identical_one_changes_nothing(
    testshire: Sessions,
) -> None:
    panels.create(testshire, SYSTEM, review_panel(CHAIR, COUNCILLOR, authority_id="testshire"),
                  now=NOW, panel_id="testshire")  # fmt: skip
    fixed = review_panel(CHAIR, COUNCILLOR, INDEPENDENT, authority_id="testshire")
    assert panels.update(testshire, SYSTEM, "testshire", fixed, now=NOW).can_sit
    again = panels.register(testshire, SYSTEM, "testshire", fixed, now=NOW)
    assert not again.changed


def test_panel_rules_are_checked_by_field(seeded: Sessions) -> None:
    with pytest.raises(InvalidInput) as error:
        panels.create(seeded, SYSTEM, PanelSpec("P", "review", members=(CHAIR, CHAIR)), now=NOW)
    assert set(error.value.errors or {}) == {"authority_id", "members"}
    with pytest.raises(InvalidInput) as error:
        panels.create(seeded, SYSTEM, PanelSpec("P", "escalation", webhook_url="http://x"), now=NOW)
    assert set(error.value.errors or {}) == {"webhook_secret"}
    with pytest.raises(Conflict):
        panels.create(seeded, SYSTEM, review_panel(CHAIR, authority_id="southwark"), now=NOW)


def test_a_panel_token_needs_an_existing_panel(seeded: Sessions) -> None:
    with pytest.raises(NotFound):
        tokens.create(seeded, SYSTEM, tokens.TokenRequest("panel", panel_id="nowhere"), now=NOW)
    request = tokens.TokenRequest("panel", panel_id="review-surrey", label="ann@example.org")
    assert tokens.create(seeded, SYSTEM, request, now=NOW).scope == "review-surrey"


def test_a_whsec_secret_signs_with_its_decoded_key() -> None:
    assert panels.signing_key("whsec_c2VjcmV0") == b"secret"
    assert panels.signing_key("plain-secret") == b"plain-secret"
