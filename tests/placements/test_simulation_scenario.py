"""Scenario files and sweeps: the estate a simulated year runs on, and every refusal in one line."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import solver
from placements.providers import ProviderSpec, StartingAvailability
from placements.seeding import provider_spec, read_seed
from placements.simulation.scenario import (
    REGIONS,
    OutOfUse,
    Scenario,
    ScenarioError,
    baseline,
    load_scenario,
    sweep,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "seed" / "scenarios"

HOME = """
[[open_homes]]
id = "new-home"
name = "New Home"
operator = "A council"
town = "Camden"
nation = "england"
lat = 51.54
lon = -0.14

[[open_homes.units]]
slug = "1"
name = "One"
approved_beds = 6
designation = "welfare"
sexes = ["F", "M"]
min_age = 10
max_age = 17
specialisms = ["cse"]
"""

UNIT = """
[[open_units]]
provider = "clare-lodge"
slug = "3"
name = "Three"
approved_beds = 4
designation = "mixed"
sexes = ["F"]
min_age = 12
max_age = 17
"""


def scenario_from(tmp_path: Path, text: str, name: str = "what-if.toml") -> Scenario:
    """Load `text`, preceded by a name, as a scenario file."""
    path = tmp_path / name
    path.write_text(f'name = "What if"\n{text}', encoding="utf-8")
    return load_scenario(path)


def refusal(tmp_path: Path, text: str) -> str:
    """The message of the ScenarioError that loading `text` (after a name) raises."""
    with pytest.raises(ScenarioError) as caught:
        scenario_from(tmp_path, text, "bad.toml")
    return str(caught.value)


def homes(scenario: Scenario) -> dict[str, ProviderSpec]:
    """The scenario's homes by id."""
    return {h.id: h for h in scenario.providers}


def unit_slugs(scenario: Scenario, home_id: str) -> list[str]:
    """The slugs of one home's units in the scenario."""
    return [u.slug for u in homes(scenario)[home_id].units]


def total_beds(scenario: Scenario) -> int:
    """Approved beds across the scenario's estate."""
    return sum(u.approved_beds for h in scenario.providers for u in h.units)


def test_the_baseline_is_the_seed_estate_unchanged() -> None:
    seed = tuple(provider_spec(p) for p in read_seed("providers.toml")["providers"])
    assert baseline() == Scenario(name="baseline", providers=seed)
    assert len(seed) == 14


def test_a_file_with_only_a_name_is_the_baseline_under_that_name(tmp_path: Path) -> None:
    loaded = scenario_from(tmp_path, "")
    assert loaded == Scenario(name="What if", providers=baseline().providers)


def test_closing_a_home_removes_it_and_its_beds(tmp_path: Path) -> None:
    loaded = scenario_from(tmp_path, 'close_homes = ["lansdowne"]')
    assert "lansdowne" not in homes(loaded)
    assert total_beds(loaded) == total_beds(baseline()) - 12
    assert [h.id for h in loaded.providers] == [
        h.id for h in baseline().providers if h.id != "lansdowne"
    ]


def test_closing_a_unit_removes_only_that_unit(tmp_path: Path) -> None:
    loaded = scenario_from(tmp_path, 'close_units = [{ provider = "adel-beck", unit = "birch" }]')
    assert unit_slugs(loaded, "adel-beck") == ["oak", "cedar"]
    assert total_beds(loaded) == total_beds(baseline()) - 8


def test_a_home_whose_every_unit_is_closed_is_dropped(tmp_path: Path) -> None:
    loaded = scenario_from(
        tmp_path,
        'close_units = [{ provider = "lansdowne", unit = "1" }, '
        '{ provider = "lansdowne", unit = "2" }]',
    )
    assert "lansdowne" not in homes(loaded)


def test_closing_designations_closes_every_unit_so_designated(tmp_path: Path) -> None:
    loaded = scenario_from(tmp_path, 'close_designations = ["justice"]')
    designations = {u.designation for h in loaded.providers for u in h.units}
    assert designations == {"welfare", "mixed"}
    # Vinney Green has only justice units.
    assert "vinney-green" not in homes(loaded)
    assert unit_slugs(loaded, "adel-beck") == ["birch", "cedar"]


def test_an_opened_home_comes_after_the_seed_homes_with_every_bed_staffed(tmp_path: Path) -> None:
    loaded = scenario_from(tmp_path, HOME)
    opened = loaded.providers[-1]
    assert [h.id for h in loaded.providers[:-1]] == [h.id for h in baseline().providers]
    assert (opened.id, opened.nation, opened.lat, opened.lon, opened.status) == (
        "new-home",
        "england",
        51.54,
        -0.14,
        "active",
    )
    (unit,) = opened.units
    assert (unit.slug, unit.approved_beds, unit.designation, unit.sexes) == (
        "1",
        6,
        "welfare",
        ["F", "M"],
    )
    assert unit.specialisms == ["cse"]
    assert unit.availability == StartingAvailability(staffed_beds=6, occupied_beds=0)


def test_an_opened_home_may_start_with_residents(tmp_path: Path) -> None:
    text = HOME + (
        "[open_homes.units.availability]\nstaffed_beds = 5\noccupied_beds = 3\n"
        'out_of_use_reason = "staffing"\n'
        "[open_homes.units.availability.resident_flags]\ncse_victim = 2\n"
    )
    (unit,) = scenario_from(tmp_path, text).providers[-1].units
    assert unit.availability == StartingAvailability(5, 3, "staffing", {"cse_victim": 2})


def test_an_opened_unit_joins_its_home_after_the_seed_units(tmp_path: Path) -> None:
    loaded = scenario_from(tmp_path, UNIT)
    assert unit_slugs(loaded, "clare-lodge") == ["nene", "welland", "3"]
    added = homes(loaded)["clare-lodge"].units[-1]
    assert (added.designation, added.sexes, added.min_age, added.specialisms) == (
        "mixed",
        ["F"],
        12,
        [],
    )
    assert total_beds(loaded) == total_beds(baseline()) + 4


def test_a_unit_closed_and_opened_again_under_its_slug_is_replaced(tmp_path: Path) -> None:
    text = 'close_units = [{ provider = "clare-lodge", unit = "nene" }]\n' + UNIT.replace(
        'slug = "3"', 'slug = "nene"'
    )
    loaded = scenario_from(tmp_path, text)
    assert unit_slugs(loaded, "clare-lodge") == ["welland", "nene"]
    assert homes(loaded)["clare-lodge"].units[-1].designation == "mixed"


def test_a_home_whose_units_are_all_closed_stays_when_a_unit_is_opened_in_it(
    tmp_path: Path,
) -> None:
    text = 'close_designations = ["welfare"]\n' + UNIT.replace('"clare-lodge"', '"lansdowne"')
    loaded = scenario_from(tmp_path, text)
    assert unit_slugs(loaded, "lansdowne") == ["3"]
    assert "kyloe-house" not in homes(loaded)


def test_a_unit_may_be_opened_in_a_home_the_scenario_opens(tmp_path: Path) -> None:
    text = HOME + UNIT.replace('provider = "clare-lodge"', 'provider = "new-home"')
    assert unit_slugs(scenario_from(tmp_path, text), "new-home") == ["1", "3"]


def test_out_of_use_periods_are_read_with_their_days(tmp_path: Path) -> None:
    text = (
        '[[out_of_use]]\nprovider = "clare-lodge"\nunit = "nene"\nbeds = 2\n'
        "from_day = 10\nto_day = 90\n"
        '[[out_of_use]]\nprovider = "clare-lodge"\nunit = "nene"\nbeds = 6\nfrom_day = 90\n'
    )
    assert scenario_from(tmp_path, text).out_of_use == (
        OutOfUse("clare-lodge", "nene", 2, 10, 90),
        OutOfUse("clare-lodge", "nene", 6, 90, None),
    )


def test_demand_flags_and_weights_are_read_and_the_rest_keep_their_defaults(
    tmp_path: Path,
) -> None:
    text = (
        'incompatible_flags = [["cse_victim", "sexual_harm_risk"],\n'
        '  ["violence_risk", "self_harm"]]\n'
        "[demand]\nwelfare = 1.5\n"
        "[weights]\nnearness = 50\nspecialism_cap = 2\n"
    )
    loaded = scenario_from(tmp_path, text)
    assert (loaded.welfare_demand, loaded.justice_demand) == (1.5, 1.0)
    assert loaded.incompatible_flags == (
        ("cse_victim", "sexual_harm_risk"),
        ("violence_risk", "self_harm"),
    )
    assert loaded.weights == solver.Weights(nearness=50.0, specialism_cap=2)


def test_an_empty_list_of_flag_pairs_means_no_pairs_rather_than_the_default(
    tmp_path: Path,
) -> None:
    assert scenario_from(tmp_path, "incompatible_flags = []").incompatible_flags == ()
    assert scenario_from(tmp_path, "").incompatible_flags is None


REFUSALS = [
    ("colour = 1", "colour: unknown key"),
    ("[demand]\nwelfare = 1\nhot = true", "demand.hot: unknown key"),
    ("[weights]\nspeed = 1", "weights.speed: unknown key"),
    ('close_homes = ["nowhere"]', "close_homes[0]: no home 'nowhere' in seed/providers.toml"),
    ('close_homes = "lansdowne"', "close_homes: must be a list"),
    ('close_units = [{ provider = "nowhere", unit = "1" }]', "close_units[0].provider: no home"),
    ('close_units = [{ provider = "lansdowne", unit = "9" }]', "close_units[0].unit: home"),
    ('close_units = [{ provider = "lansdowne" }]', "close_units[0].unit: missing"),
    ('close_designations = ["secure"]', "close_designations[0]: 'secure' is not one of"),
    (
        '[[out_of_use]]\nprovider = "clare-lodge"\nunit = "nene"\nbeds = -1',
        "out_of_use[0].beds: must be a whole number of beds, at least 1",
    ),
    (
        '[[out_of_use]]\nprovider = "clare-lodge"\nunit = "nene"\nbeds = 1.5',
        "out_of_use[0].beds: must be a whole number of beds, at least 1",
    ),
    (
        '[[out_of_use]]\nprovider = "clare-lodge"\nunit = "nene"\nbeds = true',
        "out_of_use[0].beds: must be a whole number of beds, at least 1",
    ),
    (
        '[[out_of_use]]\nprovider = "clare-lodge"\nunit = "nene"\nbeds = 9',
        "out_of_use[0].beds: 9 beds but unit 'nene' has 8",
    ),
    (
        '[[out_of_use]]\nprovider = "clare-lodge"\nunit = "nene"\nbeds = 5\nto_day = 50\n'
        '[[out_of_use]]\nprovider = "clare-lodge"\nunit = "nene"\nbeds = 4\nfrom_day = 40',
        "out_of_use[1].beds: 9 beds of unit 'nene' out of use on day 40",
    ),
    (
        '[[out_of_use]]\nprovider = "clare-lodge"\nunit = "nene"\nbeds = 1\n'
        "from_day = 30\nto_day = 30",
        "out_of_use[0].to_day: 30 is not after from_day 30",
    ),
    (
        '[[out_of_use]]\nprovider = "clare-lodge"\nunit = "nene"\nbeds = 1\nfrom_day = -1',
        "out_of_use[0].from_day: must be a whole number of days, at least 0",
    ),
    (
        '[[out_of_use]]\nprovider = "clare-lodge"\nunit = "severn"\nbeds = 1',
        "out_of_use[0].unit: home 'clare-lodge' has no unit 'severn'",
    ),
    (
        '[[out_of_use]]\nprovider = { id = "clare-lodge" }\nunit = "nene"\nbeds = 1',
        "out_of_use[0].provider: must be a home id, not a table",
    ),
    (
        'close_homes = ["clare-lodge"]\n'
        '[[out_of_use]]\nprovider = "clare-lodge"\nunit = "nene"\nbeds = 1',
        "out_of_use[0].provider: home 'clare-lodge' is closed by this scenario",
    ),
    (
        '[[out_of_use]]\nprovider = "clare-lodge"\nunit = "nene"\nbeds = 1\n'
        'incompatible_flags = [["cse_victim", "self_harm"]]',
        "out_of_use[0].incompatible_flags: unknown key",
    ),
    (HOME.replace('"new-home"', '"lansdowne"'), "open_homes[0].id: a home 'lansdowne' already"),
    (HOME + HOME, "open_homes[1].id: a home 'new-home' already exists"),
    (HOME.replace('id = "new-home"', 'id = "New Home"'), "open_homes[0].id: must be an"),
    (HOME.replace('town = "Camden"\n', ""), "open_homes[0].town: missing"),
    (HOME.replace('"england"', '"scotland"'), "open_homes[0].nation: 'scotland' is not one of"),
    (HOME.replace("lat = 51.54", "lat = 57.5"), "open_homes[0].lat: must be a number between"),
    (HOME.replace("lon = -0.14", "lon = 0.14e2"), "open_homes[0].lon: must be a number between"),
    (HOME.replace("lat = 51.54", "lat = true"), "open_homes[0].lat: must be a number"),
    (HOME.replace('"welfare"', '"secure"'), "open_homes[0].units[0].designation: 'secure'"),
    (HOME.replace('["F", "M"]', '["F", "X"]'), "open_homes[0].units[0].sexes[1]: 'X' is not"),
    (HOME.replace('["F", "M"]', "[]"), "open_homes[0].units[0].sexes: must name at least one"),
    (HOME.replace('["cse"]', '["knitting"]'), "open_homes[0].units[0].specialisms[0]: 'knitting'"),
    (
        HOME.replace("approved_beds = 6", "approved_beds = 3"),
        "open_homes[0].units[0].approved_beds: must be a whole number of beds, 4 to 12",
    ),
    (
        HOME.replace("approved_beds = 6", "approved_beds = 13"),
        "open_homes[0].units[0].approved_beds: must be a whole number of beds, 4 to 12",
    ),
    (
        HOME + "[open_homes.units.availability]\nstaffed_beds = 7",
        "open_homes[0].units[0].availability.staffed_beds: 7 staffed beds exceed the unit's 6",
    ),
    (
        HOME + "[open_homes.units.availability]\nstaffed_beds = 4\noccupied_beds = 5",
        "open_homes[0].units[0].availability.occupied_beds: 5 occupied",
    ),
    (HOME.replace("min_age = 10", "min_age = 9"), "open_homes[0].units[0].min_age: must be a"),
    (
        HOME.replace("min_age = 10", "min_age = 17\n").replace("max_age = 17", "max_age = 12"),
        "open_homes[0].units[0].min_age: 17 is above max_age 12",
    ),
    (HOME.replace("units]]", "units]]\ncolour = 1"), "open_homes[0].units[0].colour: unknown key"),
    (
        HOME.replace("lon = -0.14\n", "lon = -0.14\nunits = []\n").split("[[open_homes.units]]")[0],
        "open_homes[0].units: a home needs at least one unit",
    ),
    (UNIT.replace('"clare-lodge"', '"nowhere"'), "open_units[0].provider: home 'nowhere' is not"),
    (UNIT.replace('slug = "3"', 'slug = "nene"'), "open_units[0].slug: unit 'nene' already"),
    (UNIT.replace('provider = "clare-lodge"\n', ""), "open_units[0].provider: missing"),
    (UNIT.replace('"clare-lodge"', "[1]"), "open_units[0].provider: must be a home id"),
    ('incompatible_flags = [["cse_victim", "sleepwalking"]]', "incompatible_flags[0][1]: "),
    ('incompatible_flags = [["self_harm", "self_harm"]]', "incompatible_flags[0]: 'self_harm' is"),
    ('incompatible_flags = [["self_harm"]]', "incompatible_flags[0]: must be a pair of flags"),
    (
        'incompatible_flags = [["self_harm", "cse_victim"], ["cse_victim", "self_harm"]]',
        "incompatible_flags[1]: the pair 'cse_victim', 'self_harm' is repeated",
    ),
    ("[weights]\nnearness = -1", "weights.nearness: must be a number at least 0"),
    ("[weights]\nacceptance = true", "weights.acceptance: must be a number at least 0"),
    ("[weights]\nspecialism_cap = 2.5", "weights.specialism_cap: must be a whole number"),
    ("[weights]\nnearness_scale_km = 0", "weights.nearness_scale_km: must be above 0"),
    ("[demand]\nwelfare = 11", "demand.welfare: must be a number between 0 and 10"),
    ("[demand]\njustice = -0.5", "demand.justice: must be a number between 0 and 10"),
    ("[demand]\nwelfare = true", "demand.welfare: must be a number between 0 and 10"),
    ("[demand]\nwelfare = nan", "demand.welfare: must be a number between 0 and 10"),
    ("demand = 2", "demand: must be a table"),
]


@pytest.mark.parametrize(("text", "expected"), REFUSALS)
def test_every_refusal_is_one_line_naming_the_file_and_the_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    message = refusal(tmp_path, text)
    assert message.startswith(f"scenario bad.toml: {expected}"), message
    assert "\n" not in message


def test_a_top_level_key_written_below_a_table_is_refused_with_a_hint(tmp_path: Path) -> None:
    message = refusal(tmp_path, '[demand]\nwelfare = 1\nclose_homes = ["lansdowne"]')
    assert message.startswith("scenario bad.toml: demand.close_homes: unknown key")
    assert "must come before the first [table]" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "name: missing"),
        ('name = ""', "name: must be text of 1 to 80 characters"),
        (f'name = "{"x" * 81}"', "name: must be one line of at most 80 characters"),
        ("name = 3", "name: must be text"),
        ('name = "a\\nb"', "name: must be one line"),
        ('name = "x"\nclose_homes = [', "not valid TOML: "),
    ],
)
def test_a_name_is_required_and_the_file_must_be_toml(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value).startswith(f"scenario bad.toml: {expected}")
    assert "\n" not in str(caught.value)


def test_invalid_toml_is_refused_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('name = "x"\n\n[demand\nwelfare = 1\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"^scenario broken\.toml: not valid TOML: .*line 3"):
        load_scenario(path)


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"^scenario absent\.toml: no such file"):
        load_scenario(tmp_path / "absent.toml")


def test_both_example_files_load() -> None:
    london = load_scenario(EXAMPLES / "london-welfare-home.toml")
    assert london.name == "A welfare home in London"
    opened = homes(london)["london-welfare-home"]
    assert [(u.approved_beds, u.designation) for u in opened.units] == [(6, "welfare")] * 2
    assert total_beds(london) == total_beds(baseline()) + 12

    closed = load_scenario(EXAMPLES / "no-welfare-beds.toml")
    assert {u.designation for h in closed.providers for u in h.units} == {"justice"}


def welfare_options(scenario: Scenario) -> int:
    """How many units of the estate the matcher finds for a 14-year-old girl on a welfare order."""
    units = tuple(
        solver.Unit(
            id=f"{h.id}/{u.slug}",
            provider_id=h.id,
            lat=h.lat,
            lon=h.lon,
            free_beds=u.approved_beds,
            sexes=frozenset(u.sexes),
            min_age=u.min_age,
            max_age=u.max_age,
            designation=u.designation,
            specialisms=frozenset(u.specialisms),
        )
        for h in scenario.providers
        for u in h.units
    )
    child = solver.Child("c1", 14, "F", "welfare", 52.48, -1.90)
    return len(solver.rank(solver.Problem(units, (child,)), "c1").options)


def test_without_welfare_or_mixed_units_no_welfare_child_can_be_placed() -> None:
    assert welfare_options(baseline()) > 0
    assert welfare_options(load_scenario(EXAMPLES / "no-welfare-beds.toml")) == 0


def test_a_sweep_makes_one_scenario_per_bed_count_named_after_the_region() -> None:
    scenarios = sweep(range(0, 41, 5), "london")
    assert [s.name for s in scenarios] == [f"london +{n} welfare beds" for n in range(0, 41, 5)]
    assert [total_beds(s) - total_beds(baseline()) for s in scenarios] == list(range(0, 41, 5))
    assert scenarios[0].providers == baseline().providers


def test_a_sweep_home_is_welfare_only_at_the_region_centre() -> None:
    (scenario,) = sweep(range(20, 21), "south_east")
    home = scenario.providers[-1]
    assert (home.id, home.nation, (home.lat, home.lon)) == (
        "sweep-south-east",
        "england",
        REGIONS["south_east"],
    )
    for unit in home.units:
        assert (unit.designation, sorted(unit.sexes), unit.min_age, unit.max_age) == (
            "welfare",
            ["F", "M"],
            10,
            17,
        )
        assert unit.specialisms == ["cse", "trauma"]
        assert unit.availability == StartingAvailability(staffed_beds=unit.approved_beds)
    assert sweep(range(8, 9), "wales")[0].providers[-1].nation == "wales"


@pytest.mark.parametrize(
    ("beds", "sizes"),
    [(4, [4]), (12, [12]), (13, [7, 6]), (24, [12, 12]), (25, [9, 8, 8]), (40, [10, 10, 10, 10])],
)
def test_a_sweep_splits_beds_into_the_fewest_even_units(beds: int, sizes: list[int]) -> None:
    (scenario,) = sweep(range(beds, beds + 1), "london")
    assert [u.approved_beds for u in scenario.providers[-1].units] == sizes


def test_every_sweep_unit_holds_4_to_12_beds_in_the_fewest_units() -> None:
    for scenario, beds in zip(sweep(range(4, 150), "east"), range(4, 150), strict=True):
        sizes = [u.approved_beds for u in scenario.providers[-1].units]
        assert sum(sizes) == beds
        assert all(4 <= size <= 12 for size in sizes)
        assert len(sizes) == math.ceil(beds / 12)
        assert [u.slug for u in scenario.providers[-1].units] == [
            str(n) for n in range(1, len(sizes) + 1)
        ]


@pytest.mark.parametrize("beds", [range(1, 2), range(3, 4), range(0, 10, 3), range(-4, -3)])
def test_a_sweep_refuses_bed_counts_that_no_unit_can_hold(beds: range) -> None:
    with pytest.raises(ScenarioError, match="must be 0 or at least 4"):
        sweep(beds, "london")


def test_a_sweep_refuses_an_unknown_region_listing_the_known_ones() -> None:
    with pytest.raises(ScenarioError) as caught:
        sweep(range(0, 5), "atlantis")
    assert "'atlantis'" in str(caught.value)
    assert all(region in str(caught.value) for region in REGIONS)


def test_a_sweep_keeps_the_base_scenario_changes() -> None:
    base = load_scenario(EXAMPLES / "no-welfare-beds.toml")
    (scenario,) = sweep(range(10, 11), "north_west", base)
    assert scenario.name == "No welfare beds, north_west +10 welfare beds"
    assert scenario.providers[:-1] == base.providers
    assert welfare_options(scenario) > 0


def test_every_region_centre_lies_where_a_scenario_may_open_a_home(tmp_path: Path) -> None:
    assert len(REGIONS) == 10
    for region, (lat, lon) in REGIONS.items():
        text = HOME.replace("lat = 51.54", f"lat = {lat}").replace("lon = -0.14", f"lon = {lon}")
        text = text.replace('"england"', '"wales"' if region == "wales" else '"england"')
        assert scenario_from(tmp_path, text).providers[-1].lat == lat
