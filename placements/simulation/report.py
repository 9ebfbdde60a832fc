"""The simulated year summarised over seeds: summary.json, report.html and its SVG plots."""

from __future__ import annotations

import html
import json
import math
import statistics
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

POLICY_ORDER = ("send_all", "ranked", "batch")
DESIGNATION_ORDER = ("welfare", "justice", "mixed")
WHATIF_METRICS = ("placed_share", "wait_hours.median", "waiting_mean")
# t(0.975, df) for df 1..30 (three decimals, as printed in tables); beyond 30 the normal 1.96 is
# within 4% and the run has no scipy at runtime.
T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
# A reason absent from a seed's "unplaced" means nobody left for it; elsewhere absent means unknown.
COUNTED_GROUPS = ("unplaced",)
PLOT_NAMES = ("waiting", "wait_hours", "occupancy", "distance_km", "whatif")
LINE_STYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P")
NULL_STATS: dict[str, float | None] = {"mean": None, "low": None, "high": None}

MetricPath = tuple[str, ...]


def summarise(
    results: Sequence[Mapping[str, Any]],
    *,
    hindsight: Sequence[Mapping[str, Any] | None],
    calibration: Sequence[Mapping[str, Any]],
    parameters: Mapping[str, Any],
    whatif: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The summary.json content: per policy, mean and 95% interval over seeds of every metric."""
    by_policy = _by_policy(results)
    paths = _metric_paths(results)
    policies: dict[str, Any] = {}
    for policy, runs in by_policy.items():
        metrics: dict[str, Any] = {}
        for path in paths:
            values = [_metric_value(run["metrics"], path) for run in runs]
            _put(metrics, path, _stats([v for v in values if v is not None], len(runs)))
        policies[policy] = metrics
    summary: dict[str, Any] = {
        "parameters": dict(parameters),
        "policies": policies,
        "hindsight": _hindsight(hindsight),
        "calibration": [dict(row) for row in calibration],
    }
    if summary["hindsight"] is not None:
        bounds = {h["seed"]: h.get("placed_bound") for h in hindsight if h is not None}
        for policy, runs in by_policy.items():
            shares = [
                run["metrics"]["placed"] / bound
                for run in runs
                if (bound := bounds.get(run["seed"])) and run["metrics"].get("placed") is not None
            ]
            policies[policy]["placed_of_bound"] = _stats(shares, len(runs))
    if whatif:
        summary["whatif"] = [_whatif_entry(entry) for entry in whatif]
    rounded: dict[str, Any] = _rounded(summary)
    return rounded


def write_summary(path: Path, summary: Mapping[str, Any]) -> None:
    """Write summary.json: sorted keys, two-space indent, a final newline, UTF-8."""
    # allow_nan=False: a NaN would make the file invalid JSON for every other reader.
    text = json.dumps(summary, sort_keys=True, indent=2, allow_nan=False) + "\n"
    path.write_text(text, encoding="utf-8", newline="\n")


def write_report(
    out_dir: Path, summary: Mapping[str, Any], results: Sequence[Mapping[str, Any]]
) -> Path:
    """report.html beside summary.json, its plots as SVG files in out_dir/plots/; the html path."""
    import matplotlib

    plots_dir = out_dir / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    policies = _ordered(summary["policies"])
    by_policy = _by_policy(results)
    whatif = summary.get("whatif") or []
    # A fixed salt (and no date when saving): clip-path ids and metadata match on every run.
    with matplotlib.rc_context(
        {"svg.hashsalt": "placements-simulation", "svg.fonttype": "none", "font.size": 10.0}
    ):
        plots = [
            _plot_waiting(plots_dir, policies, by_policy),
            _plot_samples(plots_dir, policies, by_policy, "wait_hours"),
            _plot_occupancy(plots_dir, policies, summary["policies"]),
            _plot_samples(plots_dir, policies, by_policy, "distance_km"),
        ]
        if whatif:
            plots.append(_plot_whatif(plots_dir, whatif))
    # A plot left from an earlier run in the same directory would sit unreferenced beside the page.
    for name in set(PLOT_NAMES) - {plot.name for plot in plots}:
        (plots_dir / f"{name}.svg").unlink(missing_ok=True)
    page = _page(summary, policies, by_policy, _metric_order(results), plots)
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8", newline="\n")
    return path


# -- summary.json ---------------------------------------------------------------------------------


def _ordered(policies: Mapping[str, Any]) -> list[str]:
    known = [p for p in POLICY_ORDER if p in policies]
    return known + sorted(p for p in policies if p not in POLICY_ORDER)


def _by_policy(results: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for result in results:
        grouped.setdefault(result["policy"], []).append(result)
    return {policy: grouped[policy] for policy in _ordered(grouped)}


def _walk(metrics: Mapping[str, Any], prefix: MetricPath = ()) -> Iterator[MetricPath]:
    for key, value in metrics.items():
        if isinstance(value, Mapping):
            yield from _walk(value, (*prefix, key))
        else:
            yield (*prefix, key)


def _metric_paths(results: Sequence[Mapping[str, Any]]) -> list[MetricPath]:
    """Every metric's path, first seen first; a group null in one seed is a group in others."""
    seen: dict[MetricPath, None] = {}
    for result in results:
        seen.update(dict.fromkeys(_walk(result["metrics"])))
    return [path for path in seen if not any(o[: len(path)] == path and o != path for o in seen)]


def _metric_value(metrics: Mapping[str, Any], path: MetricPath) -> float | None:
    value: Any = metrics
    for key in path:
        if value is None:
            return None
        if key not in value:
            return 0 if path[0] in COUNTED_GROUPS else None
        value = value[key]
    if isinstance(value, Mapping):  # a group where other seeds had a value: not comparable
        return None
    return value if value is None else float(value)


def _put(tree: dict[str, Any], path: MetricPath, leaf: Any) -> None:
    for key in path[:-1]:
        tree = tree.setdefault(key, {})
    tree[path[-1]] = leaf


def _t975(df: int) -> float:
    return T_975[df - 1] if df <= len(T_975) else 1.96


def _stats(values: Sequence[float], seeds: int) -> dict[str, Any]:
    """Mean and Student t 95% interval; "n" only when some seeds had no value."""
    if not values:
        return dict(NULL_STATS)
    mean = math.fsum(values) / len(values)
    half = 0.0
    if len(values) > 1:
        half = _t975(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    stats: dict[str, Any] = {"mean": mean, "low": mean - half, "high": mean + half}
    if len(values) != seeds:
        stats["n"] = len(values)
    return stats


def _hindsight(hindsight: Sequence[Mapping[str, Any] | None]) -> dict[str, Any] | None:
    present = [h for h in hindsight if h is not None]
    if not present:
        return None
    found: dict[str, Any] = {
        key: _stats([h[key] for h in present if h.get(key) is not None], len(hindsight))
        for key in ("placed_bound", "placed_found")
    }
    found["seeds"] = [None if h is None else dict(h) for h in hindsight]
    return found


def _lookup(tree: Mapping[str, Any], dotted: str) -> dict[str, Any]:
    node: Any = tree
    for key in dotted.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return dict(NULL_STATS)
        node = node[key]
    return dict(node) if isinstance(node, Mapping) and "mean" in node else dict(NULL_STATS)


def _whatif_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    policies = entry["summary"]["policies"]
    return {
        "label": str(entry["label"]),
        "policies": {
            policy: {metric: _lookup(policies[policy], metric) for metric in WHATIF_METRICS}
            for policy in _ordered(policies)
        },
    }


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4) + 0.0  # + 0.0 turns -0.0 into 0.0
    if isinstance(value, Mapping):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(item) for item in value]
    return value


# -- plots ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plot:
    """A saved plot: its name under plots/, its heading and the alt text saying what it shows."""

    name: str
    title: str
    alt: str


def _figure(columns: int = 1) -> tuple[Figure, list[Axes]]:
    from matplotlib.figure import Figure

    # A bare Figure belongs to no pyplot window or backend: nothing global to switch or close.
    width = 7.6 if columns == 1 else 4.6 * columns
    figure = Figure(figsize=(width, 4.2), layout="constrained")
    axes = [figure.add_subplot(1, columns, i + 1) for i in range(columns)]
    return figure, axes


def _save(figure: Figure, plots_dir: Path, name: str) -> None:
    figure.savefig(plots_dir / f"{name}.svg", format="svg", metadata={"Date": None})


def _style(index: int) -> dict[str, Any]:
    """Colour, line style and marker differ together so no policy is told apart by colour alone."""
    return {
        "color": f"C{index}",
        "linestyle": LINE_STYLES[index % len(LINE_STYLES)],
        "marker": MARKERS[index % len(MARKERS)],
    }


def _daily_mean(runs: Sequence[Mapping[str, Any]], series: str) -> list[float]:
    lists = [run["series"][series] for run in runs if run.get("series", {}).get(series)]
    days = max((len(values) for values in lists), default=0)
    means = []
    for day in range(days):
        today = [values[day] for values in lists if day < len(values)]
        means.append(math.fsum(today) / len(today))
    return means


def _plot_waiting(
    plots_dir: Path, policies: Sequence[str], by_policy: Mapping[str, Sequence[Mapping[str, Any]]]
) -> _Plot:
    figure, (axes,) = _figure()
    parts = []
    for index, policy in enumerate(policies):
        means = _daily_mean(by_policy.get(policy, ()), "waiting")
        if not means:
            parts.append(f"{policy}: no daily series")
            continue
        style = _style(index) | {"marker": None}
        axes.plot(range(1, len(means) + 1), means, label=policy, linewidth=1.4, **style)
        peak = max(means)
        parts.append(
            f"{policy}: {_number(math.fsum(means) / len(means))} on average, "
            f"highest {_number(peak)} on day {means.index(peak) + 1}"
        )
    axes.set_xlabel("Day of the simulated year")
    axes.set_ylabel("Children waiting (mean over seeds)")
    axes.set_ylim(bottom=0)
    _legend(axes)
    _save(figure, plots_dir, "waiting")
    alt = (
        "Line chart of the children waiting on each day, mean over seeds. " + "; ".join(parts) + "."
    )
    return _Plot("waiting", "The waiting list through the year", alt)


def _plot_samples(
    plots_dir: Path,
    policies: Sequence[str],
    by_policy: Mapping[str, Sequence[Mapping[str, Any]]],
    sample: str,
) -> _Plot:
    figure, (axes,) = _figure()
    parts = []
    for index, policy in enumerate(policies):
        values = [
            v for run in by_policy.get(policy, ()) for v in run.get("samples", {}).get(sample, [])
        ]
        if not values:
            parts.append(f"{policy}: no placed children")
            continue
        axes.ecdf(values, label=policy, linewidth=1.4, **(_style(index) | {"marker": None}))
        parts.append(
            f"{policy}: median {_number(statistics.median(values))}, "
            f"90th percentile {_number(_percentile(values, 0.9))} ({len(values)} children)"
        )
    if sample == "wait_hours":
        # Waits span hours to months; symlog keeps zero-hour admissions that a log scale would drop.
        axes.set_xscale("symlog", linthresh=1.0)
        axes.axvline(72, color="0.4", linewidth=0.8, linestyle=":")
        axes.text(72, 0.02, " 72 h", color="0.3")
        axes.set_xlabel("Hours from referral to admission (log scale)")
        title, what = "How long placed children waited", "hours from referral to admission"
    else:
        axes.set_xlabel("Kilometres from home to unit")
        title, what = "How far from home children were placed", "kilometres from home to unit"
    axes.set_ylabel("Share of placed children (cumulative)")
    axes.set_ylim(0, 1.02)
    _legend(axes)
    _save(figure, plots_dir, sample)
    alt = (
        f"Cumulative distribution of {what} for placed children, pooled over seeds. "
        + "; ".join(parts)
        + "."
    )
    return _Plot(sample, title, alt)


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def _plot_occupancy(plots_dir: Path, policies: Sequence[str], stats: Mapping[str, Any]) -> _Plot:
    figure, (axes,) = _figure()
    designations: list[str] = []
    for policy in policies:
        for designation in stats[policy].get("occupancy", {}).get("designation", {}):
            if designation not in designations:
                designations.append(designation)
    designations.sort(key=lambda d: (d not in DESIGNATION_ORDER, _rank(DESIGNATION_ORDER, d), d))
    width = 0.8 / max(len(policies), 1)
    parts = []
    for index, policy in enumerate(policies):
        by_designation = stats[policy].get("occupancy", {}).get("designation", {})
        cells = [by_designation.get(d, NULL_STATS) for d in designations]
        xs = [i + (index - (len(policies) - 1) / 2) * width for i in range(len(designations))]
        heights = [c["mean"] if c["mean"] is not None else 0.0 for c in cells]
        errors = [
            [c["mean"] - c["low"] if c["mean"] is not None else 0.0 for c in cells],
            [c["high"] - c["mean"] if c["mean"] is not None else 0.0 for c in cells],
        ]
        hatch = ("", "//", "..", "xx", "\\\\", "++")[index % 6]
        axes.bar(xs, heights, width, yerr=errors, capsize=3, label=policy, color=f"C{index}",
                 hatch=hatch, edgecolor="black", linewidth=0.5)  # fmt: skip
        parts.append(
            f"{policy}: "
            + ", ".join(
                f"{d} {_share(c['mean'])}" for d, c in zip(designations, cells, strict=True)
            )
        )
    axes.set_xticks(range(len(designations)), designations)
    axes.set_ylabel("Beds occupied / staffed (mean over days)")
    axes.set_ylim(0, 1.05)
    _legend(axes)
    _save(figure, plots_dir, "occupancy")
    alt = (
        "Bar chart of occupancy by unit designation per policy, mean over seeds with 95% "
        "intervals. " + "; ".join(parts) + "."
    )
    return _Plot("occupancy", "Occupancy by designation", alt)


def _rank(order: Sequence[str], item: str) -> int:
    return order.index(item) if item in order else len(order)


def _plot_whatif(plots_dir: Path, whatif: Sequence[Mapping[str, Any]]) -> _Plot:
    figure, axes = _figure(columns=2)
    labels = [str(entry["label"]) for entry in whatif]
    policies = _ordered({p: None for entry in whatif for p in entry["policies"]})
    parts = []
    shown = (
        ("placed_share", "Share of referrals placed"),
        ("wait_hours.median", "Median wait (hours)"),
    )
    for index, policy in enumerate(policies):
        for panel, (metric, _) in zip(axes, shown, strict=True):
            cells = [entry["policies"].get(policy, {}).get(metric, NULL_STATS) for entry in whatif]
            points = [(i, c) for i, c in enumerate(cells) if c["mean"] is not None]
            if not points:
                continue
            # policies side by side at each what-if so their intervals do not hide one another
            dodge = (index - (len(policies) - 1) / 2) * 0.06
            panel.errorbar(
                [i + dodge for i, _ in points],
                [c["mean"] for _, c in points],
                yerr=[
                    [c["mean"] - c["low"] for _, c in points],
                    [c["high"] - c["mean"] for _, c in points],
                ],
                label=policy,
                capsize=3,
                linewidth=1.4,
                **_style(index),
            )
        cells = [entry["policies"].get(policy, {}) for entry in whatif]
        parts.append(
            f"{policy}: "
            + ", ".join(
                f"{label} placed {_share(c.get('placed_share', NULL_STATS)['mean'])}, median wait "
                f"{_number(c.get('wait_hours.median', NULL_STATS)['mean'])} h"
                for label, c in zip(labels, cells, strict=True)
            )
        )
    for panel, (_, ylabel) in zip(axes, shown, strict=True):
        panel.set_xticks(
            range(len(labels)),
            labels,
            rotation=30 if len(labels) > 4 else 0,
            ha="right" if len(labels) > 4 else "center",
        )
        panel.set_ylabel(ylabel)
        panel.set_xlabel("What if")
    if axes[0].get_legend_handles_labels()[0]:
        figure.legend(
            *axes[0].get_legend_handles_labels(),
            loc="outside lower center",
            ncols=len(policies),
            frameon=False,
        )
    _save(figure, plots_dir, "whatif")
    alt = (
        "Two line charts against each what-if, per policy with 95% intervals: the share of "
        "referrals placed (left) and the median wait in hours (right). " + "; ".join(parts) + "."
    )
    return _Plot("whatif", "What if", alt)


def _legend(axes: Axes) -> None:
    if axes.get_legend_handles_labels()[0]:
        axes.legend(frameon=False)


# -- report.html ----------------------------------------------------------------------------------


def _number(value: float | None) -> str:
    if value is None:
        return "no value"
    if abs(value) >= 100:
        return f"{value:,.1f}".removesuffix(".0")
    return f"{value:.4g}"


def _share(value: float | None) -> str:
    return "no value" if value is None else f"{value * 100:.1f}%"


def _cell(stats: Mapping[str, Any], seeds: int | None = None) -> str:
    """ "mean (low to high)", and how many seeds had a value when not all did and seeds is given."""
    if stats.get("mean") is None:
        return "no value"
    text = f"{_number(stats['mean'])} ({_number(stats['low'])}\N{EN DASH}{_number(stats['high'])})"
    if "n" in stats and seeds is not None:
        text += f", {stats['n']} of {seeds} seeds"
    return text


def _e(value: Any) -> str:
    return html.escape(value if isinstance(value, str) else json.dumps(value, sort_keys=True))


def _metric_order(results: Sequence[Mapping[str, Any]]) -> list[str]:
    return [".".join(path) for path in _metric_paths(results)]


def _leaves(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    for key, value in tree.items():
        if isinstance(value, Mapping) and "mean" in value:
            yield prefix + key, value
        elif isinstance(value, Mapping):
            yield from _leaves(value, f"{prefix}{key}.")


def _table(caption: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table whose first column heads each row; every cell already escaped."""
    head = "".join(f'<th scope="col">{h}</th>' for h in header)
    body = "".join(
        f'<tr><th scope="row">{row[0]}</th>' + "".join(f"<td>{c}</td>" for c in row[1:]) + "</tr>\n"
        for row in rows
    )
    return (
        f"<table>\n<caption>{caption}</caption>\n<thead><tr>{head}</tr></thead>\n"
        f"<tbody>\n{body}</tbody>\n</table>\n"
    )


def _parameters_section(parameters: Mapping[str, Any]) -> str:
    rows = [[_e(key), _e(parameters[key])] for key in sorted(parameters)]
    table = _table("Parameters of the run", ["Parameter", "Value"], rows)
    return f"<section>\n<h2>The run</h2>\n{table}</section>\n"


def _policies_section(
    stats: Mapping[str, Any],
    policies: Sequence[str],
    seeds: Mapping[str, int],
    order: Sequence[str],
) -> str:
    metrics: dict[str, None] = {}
    for policy in policies:
        metrics.update(dict.fromkeys(name for name, _ in _leaves(stats[policy])))
    ranked = sorted(metrics, key=lambda m: (_rank(order, m), m))
    header = ["Metric", *(f"{_e(p)} ({seeds.get(p, 0)} seeds)" for p in policies)]
    rows = [
        [_e(metric), *(_e(_cell(_lookup(stats[p], metric), seeds.get(p, 0))) for p in policies)]
        for metric in ranked
    ]
    caption = "Every metric per policy: mean over seeds (95% Student t interval)"
    return (
        "<section>\n<h2>Policies compared</h2>\n"
        "<p>Each cell is the mean over seeds with its 95% interval in brackets; where some seeds "
        "had no value the cell says how many did.</p>\n"
        f"{_table(caption, header, rows)}</section>\n"
    )


def _hindsight_section(
    hindsight: Mapping[str, Any] | None,
    policies: Sequence[str],
    stats: Mapping[str, Any],
    run_seeds: Sequence[Any],
) -> str:
    if hindsight is None:
        return (
            "<section>\n<h2>Hindsight</h2>\n"
            "<p>The hindsight bound was not computed.</p>\n</section>\n"
        )
    seeds = hindsight["seeds"]
    # an entry that was not computed carries no seed: name it from the run's seeds, in order
    names = [str(s) for s in run_seeds] if len(run_seeds) == len(seeds) else []
    overall = [
        ["Placeable with hindsight (bound)", _e(_cell(hindsight["placed_bound"], len(seeds)))],
        [
            "Placed by the hindsight solution found",
            _e(_cell(hindsight["placed_found"], len(seeds))),
        ],
        *(
            [
                f"Placed by {_e(p)} / bound",
                _e(_cell(stats[p].get("placed_of_bound", NULL_STATS), len(seeds))),
            ]
            for p in policies
        ),
    ]
    per_seed = [
        [
            _e(str(h["seed"])),
            _e(_number(h.get("placed_bound"))),
            _e(_number(h.get("placed_found"))),
            _e(str(h.get("status"))),
            _e(_number(h.get("stays"))),
        ]
        if h is not None
        else [_e(names[i] if names else f"run {i + 1}"), "not computed", "", "", ""]
        for i, h in enumerate(seeds)
    ]
    return (
        "<section>\n<h2>Hindsight</h2>\n"
        "<p>The most children any policy could have placed had every referral been known in "
        "advance (an upper bound), and how close each policy came.</p>\n"
        + _table("Hindsight bound over seeds", ["Measure", "Mean (95% interval)"], overall)
        + _table(
            "Hindsight bound per seed",
            ["Seed", "Bound", "Found", "Status", "Stays"],
            per_seed,
        )
        + "</section>\n"
    )


def _calibration_section(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return (
            "<section>\n<h2>Calibration</h2>\n"
            "<p>No published figures were compared.</p>\n</section>\n"
        )
    within = {True: "yes", False: "no", None: "not simulated"}
    table = _table(
        "Published figures against the simulation (send_all)",
        ["Figure", "Published", "Tolerance", "Simulated", "Within tolerance"],
        [
            [
                _e(str(row["figure"])),
                _e(str(row["published"])),
                _e(str(row["tolerance"])),
                _e(_number(row.get("simulated"))),
                within[row.get("within")],
            ]
            for row in rows
        ],
    )
    return f"<section>\n<h2>Calibration</h2>\n{table}</section>\n"


def _whatif_section(whatif: Sequence[Mapping[str, Any]]) -> str:
    rows = [
        [
            _e(str(entry["label"])),
            _e(policy),
            *(_e(_cell(cells.get(metric, NULL_STATS))) for metric in WHATIF_METRICS),
        ]
        for entry in whatif
        for policy, cells in entry["policies"].items()
    ]
    table = _table(
        "Each what-if per policy: mean over seeds (95% interval)",
        [
            "What if",
            "Policy",
            "Share placed",
            "Median wait (hours)",
            "Children waiting (daily mean)",
        ],
        rows,
    )
    return f"<section>\n<h2>What if</h2>\n{table}</section>\n"


def _seed_list(parameters: Mapping[str, Any]) -> list[Any]:
    seeds = parameters.get("seeds")
    return list(seeds) if isinstance(seeds, list | tuple) else []


def _figure_html(plot: _Plot) -> str:
    return (
        f'<figure>\n<img src="plots/{plot.name}.svg" alt="{_e(plot.alt)}">\n'
        f"<figcaption>{_e(plot.title)}</figcaption>\n</figure>\n"
    )


STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 72rem; padding: 0 1rem;
       color: #0b0c0c; line-height: 1.4; }
table { border-collapse: collapse; margin: 1rem 0 2rem; }
caption { text-align: left; font-weight: bold; padding-bottom: 0.4rem; }
th, td { border: 1px solid #b1b4b6; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
thead th { background: #f3f2f1; }
figure { margin: 1rem 0 2rem; }
img { max-width: 100%; height: auto; }
"""


def _page(
    summary: Mapping[str, Any],
    policies: Sequence[str],
    by_policy: Mapping[str, Sequence[Mapping[str, Any]]],
    order: Sequence[str],
    plots: Sequence[_Plot],
) -> str:
    parameters = summary.get("parameters", {})
    seeds = {policy: len(by_policy.get(policy, ())) for policy in policies}
    days = parameters.get("days")
    title = f"Simulated year: {', '.join(policies)}" + (f" over {days} days" if days else "")
    whatif = summary.get("whatif") or []
    sections = [
        _parameters_section(parameters),
        _policies_section(summary["policies"], policies, seeds, order),
        _hindsight_section(
            summary.get("hindsight"), policies, summary["policies"], _seed_list(parameters)
        ),
        _calibration_section(summary.get("calibration") or []),
        "<section>\n<h2>Plots</h2>\n"
        + "".join(_figure_html(p) for p in plots if p.name != "whatif")
        + "</section>\n",
    ]
    if whatif:
        sections.append(
            _whatif_section(whatif).removesuffix("</section>\n")
            + "".join(_figure_html(p) for p in plots if p.name == "whatif")
            + "</section>\n"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{_e(title)}</h1>\n" + "".join(sections) + "</main>\n</body>\n</html>\n"
    )
