"""`placements simulate`: the command line of the simulation, its output and its bad inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from api.simulate import main

ROOT = Path(__file__).resolve().parents[2]
PLACEMENTS = Path(sys.executable).with_name("placements")


def _scenario(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "what-if.toml"
    path.write_text(text, encoding="utf-8")
    return path


BAD = [
    (["--policy", "lottery"], "--policy: unknown policy 'lottery'"),
    (["--days", "1900"], "--days: must be from 1 to 1830"),
    (["--days", "0"], "--days: must be from 1 to 1830"),
    (["--days", "many"], "--days: invalid int value"),
    (["--seeds", "0"], "--seeds: must be from 1"),
    (["--sweep-beds", "0:-5:5", "--region", "london"], "--sweep-beds"),
    (["--sweep-beds", "0:40:5", "--region", "atlantis"], "atlantis"),
    (["--sweep-beds", "0:40:5"], "--sweep-beds and --region go together"),
    (["--scenario", "/nowhere/at/all.toml"], "all.toml"),
]


@pytest.mark.parametrize(("args", "says"), BAD)
def test_a_bad_argument_exits_2_with_one_line(
    args: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("placements simulate: error: ")
    assert says in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('name = "x"\nclose_homes = ["nowhere"]\n', "close_homes[0]: no home 'nowhere'"),
        (
            'name = "x"\n[[out_of_use]]\nprovider = "clare-lodge"\nunit = "nene"\nbeds = -2\n',
            "out_of_use[0].beds",
        ),
        ('name = "x"\n[demand]\nwelfare = "lots"\n', "demand.welfare"),
        ("name = [", "what-if.toml"),
    ],
)
def test_a_bad_scenario_exits_2_with_one_line_naming_the_field(
    text: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _scenario(tmp_path, text)
    assert main(["--scenario", str(path), "--days", "2", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert says in err


def test_the_command_writes_the_same_summary_twice_and_a_report(tmp_path: Path) -> None:
    outs = [tmp_path / "one", tmp_path / "two"]
    for out in outs:
        done = subprocess.run(
            [str(PLACEMENTS), "simulate", "--days", "4", "--seed", "7", "--policy", "ranked",
             "--out", str(out)],
            capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "ranked: placed" in done.stdout
    first, second = (o / "summary.json" for o in outs)
    assert first.read_bytes() == second.read_bytes()
    html = (outs[0] / "report.html").read_text(encoding="utf-8")
    assert "ranked" in html
    assert (outs[0] / "plots").is_dir()


def test_the_real_command_refuses_an_unknown_policy_with_status_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(PLACEMENTS), "simulate", "--policy", "coin", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "placements simulate: error: --policy: unknown policy 'coin'; known: send_all, ranked,"
        " batch (or all)"
    ]


def test_a_sweep_compares_each_step_with_the_estate_as_it_is(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    args = ["--days", "2", "--policy", "ranked", "--no-hindsight", "--out", str(out)]
    assert main([*args, "--sweep-beds", "0:8:4", "--region", "london"]) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    labels = [w["label"] for w in summary["whatif"]]
    assert labels == ["london +4 welfare beds", "london +8 welfare beds", "baseline"]
    assert (out / "plots" / "whatif.svg").exists()


def test_a_scenario_is_compared_with_the_seed_estate(tmp_path: Path) -> None:
    out = tmp_path / "scenario"
    scenario = ROOT / "seed" / "scenarios" / "london-welfare-home.toml"
    args = ["--days", "2", "--policy", "ranked", "--no-hindsight", "--scenario", str(scenario)]
    assert main([*args, "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["parameters"]["scenario"] == "A welfare home in London"
    assert [w["label"] for w in summary["whatif"]] == ["baseline", "A welfare home in London"]
