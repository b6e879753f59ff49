"""Charts for dashboard tiles and record panels, drawn on the server as SVG by pygal, each
with its data as a table (readable without the picture) and an empty state.

Why pygal on the server rather than a JavaScript library in the browser: a chart is then
ordinary HTML that htmx swaps in like any other fragment (nothing to start after a swap),
it shows without JavaScript, in a screenshot and in print, and a test reads its numbers
from the response. pygal is pure Python, kept up to date, and writes SVG that scales with
its tile, so a phone gets the same chart as a desktop.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, get_args

import pygal  # type: ignore[import-untyped]
from markupsafe import Markup
from pygal.style import Style  # type: ignore[import-untyped]

# pygal appends to sys.meta_path a finder of the old kind (find_module, no find_spec) for
# its map plugins, which Accord does not use. Importers that ask every finder for a spec,
# such as pytest's importlib mode loading a conftest, fail on it: take it out again.
sys.meta_path[:] = [
    finder
    for finder in sys.meta_path
    if hasattr(finder, "find_spec") or not type(finder).__module__.startswith("pygal")
]

ChartKind = Literal["bar", "line", "pie", "doughnut"]
Number = int | float
Value = Number | None

# Okabe and Ito's palette: told apart by readers with any kind of colour blindness.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#999999")
STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="currentColor",
    foreground_strong="currentColor",
    foreground_subtle="rgba(128, 128, 128, 0.35)",
    font_family="inherit",
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=13,
    value_font_size=13,
    colors=PALETTE,
    opacity="0.9",
    opacity_hover="1",
)
SPOKEN_POINTS = 12
"""Up to this many values are read out in the chart's description; beyond, the table."""


def chart(
    kind: ChartKind,
    labels: Sequence[str],
    series: Mapping[str, Sequence[Value]],
    *,
    title: str,
    empty: str = "Nothing to show for these filters.",
    value_format: Callable[[Number], str] | None = None,
) -> Markup:
    """A chart as escaped HTML, ready to return from a widget's or a panel's ``render``.

    ``labels`` name the bars, points or slices; ``series`` maps each series' name to its
    values, one per label (``None`` for no value). A pie or a doughnut takes exactly one
    series, whose values are the slices. ``title`` describes the chart to screen readers;
    the data is always also a table, under "Show the data". When there are no labels or
    every value is zero or ``None``, the result is ``empty`` as a message, not an empty
    chart. ``value_format`` writes a value (``"{:,.0f} €".format``); the default writes
    whole numbers without decimals.

    A mistake in the arguments raises ``ValueError`` naming the chart and the series."""
    fmt = value_format or _number
    _check(kind, labels, series, title)
    if not labels or all(not value for values in series.values() for value in values):
        return Markup('<p class="chart__empty">{}</p>').format(empty)
    svg = _svg(kind, labels, series, fmt)
    return Markup(
        '<figure class="chart chart--{kind}">'
        '<div class="chart__drawing" role="img" aria-label="{description}">{svg}</div>'
        '<details class="chart__data"><summary>Show the data</summary>{table}</details>'
        "</figure>"
    ).format(
        kind=kind,
        description=_description(kind, labels, series, title, fmt),
        svg=Markup(svg),
        table=_table(labels, series, title, fmt),
    )


def _check(
    kind: str, labels: Sequence[str], series: Mapping[str, Sequence[Value]], title: str
) -> None:
    where = f"chart {title!r}"
    if kind not in get_args(ChartKind):
        raise ValueError(f"{where}: unknown kind {kind!r}; use one of {get_args(ChartKind)}")
    if not series:
        raise ValueError(f"{where}: give at least one series")
    if kind in ("pie", "doughnut") and len(series) != 1:
        raise ValueError(f"{where}: a {kind} chart takes one series, got {len(series)}")
    for name, values in series.items():
        if len(values) != len(labels):
            raise ValueError(
                f"{where}: series {name!r} has {len(values)} values for {len(labels)} labels"
            )
        for value in values:
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                raise ValueError(f"{where}: series {name!r} holds {value!r}, not a number")


def _svg(
    kind: ChartKind,
    labels: Sequence[str],
    series: Mapping[str, Sequence[Value]],
    fmt: Callable[[Number], str],
) -> str:
    options: dict[str, Any] = {
        "style": STYLE,
        "js": [],  # no script from elsewhere: the chart is a plain picture
        "disable_xml_declaration": True,
        "explicit_size": False,
        "width": 440,
        "height": 260,
        "margin": 8,
        # pygal leaves no room under a pie for a one-line legend: pies keep it at the side.
        "legend_at_bottom": kind not in ("pie", "doughnut"),
        "legend_at_bottom_columns": 3,
        "value_formatter": lambda value: "" if value is None else fmt(value),
        "truncate_legend": 30,
        "truncate_label": 14,
    }
    if kind in ("pie", "doughnut"):
        drawing = pygal.Pie(inner_radius=0.55 if kind == "doughnut" else 0, **options)
        (values,) = series.values()
        for label, value in zip(labels, values, strict=True):
            drawing.add(label, [value or 0])
    else:
        factory = pygal.Bar if kind == "bar" else pygal.Line
        drawing = factory(
            show_legend=len(series) > 1,
            x_label_rotation=30 if len(labels) > 8 else 0,
            show_minor_x_labels=len(labels) <= 16,
            x_labels_major_every=max(1, len(labels) // 8),
            include_x_axis=True,
            min_scale=2,
            max_scale=6,
            **options,
        )
        drawing.x_labels = list(labels)
        ticks = whole_ticks([value for values in series.values() for value in values])
        if ticks:
            drawing.y_labels = ticks
        for name, values in series.items():
            drawing.add(name, list(values))
    return str(drawing.render(is_unicode=True))


def whole_ticks(values: Sequence[Value]) -> list[int]:
    """Axis marks at round whole numbers when every value is a whole number of at least
    zero (counts: no "1.60 customers"); empty otherwise, leaving pygal's own marks."""
    given = [value for value in values if value is not None]
    if not given or any(value < 0 or value != int(value) for value in given):
        return []
    top = int(max(given))
    rough = max(1, math.ceil(top / 5))
    magnitude = 10 ** int(math.log10(rough))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough)
    return list(range(0, top + step, step))


def _description(
    kind: ChartKind,
    labels: Sequence[str],
    series: Mapping[str, Sequence[Value]],
    title: str,
    fmt: Callable[[Number], str],
) -> str:
    what = {"bar": "Bar chart", "line": "Line chart", "pie": "Pie chart", "doughnut": "Pie chart"}
    parts = [f"{what[kind]}: {title}."]
    if len(labels) <= SPOKEN_POINTS:
        for name, values in series.items():
            points = ", ".join(
                f"{label} {_shown(value, fmt)}" for label, value in zip(labels, values, strict=True)
            )
            parts.append(f"{name}: {points}." if len(series) > 1 else f"{points}.")
    else:
        parts.append(f"{len(labels)} values; the table under the chart lists them.")
    return " ".join(parts)


def _table(
    labels: Sequence[str],
    series: Mapping[str, Sequence[Value]],
    title: str,
    fmt: Callable[[Number], str],
) -> Markup:
    names = list(series)
    head = Markup("").join(Markup('<th scope="col">{}</th>').format(name) for name in names)
    rows = Markup("").join(
        Markup('<tr><th scope="row">{}</th>{}</tr>').format(
            label,
            Markup("").join(
                Markup("<td>{}</td>").format(_shown(series[name][index], fmt)) for name in names
            ),
        )
        for index, label in enumerate(labels)
    )
    return Markup(
        "<table><caption>{caption}</caption><thead><tr><td></td>{head}</tr></thead>"
        "<tbody>{rows}</tbody></table>"
    ).format(caption=title, head=head, rows=rows)


def _shown(value: Value, fmt: Callable[[Number], str]) -> str:
    return "\N{EN DASH}" if value is None else fmt(value)


def _number(value: Number) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


__all__ = ["ChartKind", "chart"]
