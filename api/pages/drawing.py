"""Geometry of the coordinator's pictures, drawn on the server: the map of homes and bar charts.

Plain numbers only (no Flask, no markup): the templates write the SVG from these values, so every
text in a picture is escaped like any other text of a page. The map projects longitude and
latitude equirectangularly, longitude scaled by cos 54° (the middle of England and Wales), so the
country keeps its shape without a tile server or any request leaving the page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from api.pages import outline

PARALLEL = math.cos(math.radians(54))
SCALE = 100.0  # picture units per degree of latitude
MARGIN = 20.0
# A home's dot: its radius grows with the square root of its free beds, within these bounds.
DOT_SMALLEST, DOT_GROWTH, DOT_LARGEST = 10.0, 2.0, 18.0
DOT_GAP = 1.0  # dots pushed apart until this far from each other


@dataclass(frozen=True)
class Home:
    """A home to put on the map."""

    id: str
    name: str
    town: str
    lon: float
    lat: float
    free_beds: int
    stale: bool = False


@dataclass(frozen=True)
class Dot:
    """A home's dot: where it is drawn and how large."""

    home: Home
    x: float
    y: float
    r: float


@dataclass(frozen=True)
class Map:
    """The map: its view box, the land as SVG path data, the border with Wales, and the dots."""

    width: float
    height: float
    land: str
    border: str
    dots: list[Dot]

    @property
    def view_box(self) -> str:
        """The SVG viewBox: the picture scales to its container's width."""
        return f"0 0 {self.width:.0f} {self.height:.0f}"


@dataclass(frozen=True)
class Bar:
    """One bar of a horizontal bar chart, its label above it and its value after it."""

    label: str
    value: int
    label_y: float
    bar_y: float
    length: float
    value_x: float


@dataclass(frozen=True)
class Chart:
    """A horizontal bar chart."""

    width: float
    height: float
    bar_height: float
    bars: list[Bar]

    @property
    def view_box(self) -> str:
        """The SVG viewBox."""
        return f"0 0 {self.width:.0f} {self.height:.0f}"


class Projection:
    """Longitude and latitude to picture units, fitted to the outline of England and Wales."""

    def __init__(self, rings: Sequence[Sequence[outline.Point]]) -> None:
        points = [p for ring in rings for p in ring]
        self.west = min(lon for lon, _ in points)
        self.east = max(lon for lon, _ in points)
        self.south = min(lat for _, lat in points)
        self.north = max(lat for _, lat in points)

    @property
    def width(self) -> float:
        """The picture's width, margins included."""
        return (self.east - self.west) * PARALLEL * SCALE + 2 * MARGIN

    @property
    def height(self) -> float:
        """The picture's height, margins included."""
        return (self.north - self.south) * SCALE + 2 * MARGIN

    def __call__(self, lon: float, lat: float) -> tuple[float, float]:
        """Where a place falls in the picture (y grows southwards)."""
        return (
            (lon - self.west) * PARALLEL * SCALE + MARGIN,
            (self.north - lat) * SCALE + MARGIN,
        )


def path_of(rings: Sequence[Sequence[outline.Point]], project: Projection, *,
            closed: bool = True) -> str:  # fmt: skip
    """SVG path data of some rings (or lines, when not closed)."""
    parts = []
    for ring in rings:
        xy = [project(lon, lat) for lon, lat in ring]
        moves = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy[1:])
        parts.append(f"M{xy[0][0]:.1f},{xy[0][1]:.1f} L{moves}{' Z' if closed else ''}")
    return " ".join(parts)


def radius(free_beds: int) -> float:
    """A dot's radius: larger for more free beds, never too small to hold its number."""
    return min(DOT_LARGEST, DOT_SMALLEST + DOT_GROWTH * math.sqrt(max(free_beds, 0)))


def spread(dots: list[Dot], *, rounds: int = 60) -> list[Dot]:
    """The dots moved apart just enough not to overlap (homes in one city stay readable)."""
    placed = [[d.x, d.y, d.r] for d in dots]
    for _ in range(rounds):
        moved = False
        for i, a in enumerate(placed):
            for b in placed[i + 1 :]:
                dx, dy = b[0] - a[0], b[1] - a[1]
                apart = math.hypot(dx, dy)
                overlap = a[2] + b[2] + DOT_GAP - apart
                if overlap <= 0:
                    continue
                if apart < 1e-6:  # the same place: part them east and west
                    dx, dy, apart = 1.0, 0.0, 1.0
                push = overlap / 2 / apart
                a[0], a[1] = a[0] - dx * push, a[1] - dy * push
                b[0], b[1] = b[0] + dx * push, b[1] + dy * push
                moved = True
        if not moved:
            break
    return [Dot(d.home, x, y, r) for d, (x, y, r) in zip(dots, placed, strict=True)]


def home_map(homes: Sequence[Home]) -> Map:
    """The map of England and Wales with a dot per home, largest first so small ones stay on top."""
    project = Projection([outline.MAINLAND])
    dots = []
    for home in homes:
        x, y = project(home.lon, home.lat)
        dots.append(Dot(home, x, y, radius(home.free_beds)))
    dots.sort(key=lambda d: (-d.r, d.home.id))
    return Map(
        width=project.width,
        height=project.height,
        land=path_of([outline.MAINLAND, *outline.ISLANDS], project),
        border=path_of([outline.WELSH_BORDER], project, closed=False),
        dots=spread(dots),
    )


def bar_chart(values: Sequence[tuple[str, int]], *, width: float = 400.0) -> Chart:
    """A horizontal bar chart of labelled counts: each label on a line above its bar."""
    line, bar_height, gap, room_for_value = 22.0, 20.0, 14.0, 48.0
    longest = max((v for _, v in values), default=0) or 1
    bars, y = [], 4.0
    for label, value in values:
        length = (width - room_for_value) * value / longest
        bars.append(Bar(label, value, y + 16.0, y + line, length, length + 6.0))
        y += line + bar_height + gap
    return Chart(width, max(y, 1.0), bar_height, bars)
