"""The report's charts, drawn with matplotlib into PNG files the Markdown and the HTML embed."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import numpy as np  # noqa: E402


def bar_chart(
    path: Path,
    names: list[str],
    month_values: list[float],
    average_values: list[float] | None,
    month: str,
    months_before: int,
) -> None:
    """Horizontal bars per name: this month's value beside the average of the ``months_before`` months before
    (this month's alone when ``average_values`` is None: no month before is held)."""
    figure, axis = plt.subplots(figsize=(10, 0.45 * len(names) + 1.5), dpi=110)
    positions = np.arange(len(names))
    axis.barh(positions - 0.2, month_values, height=0.4, label=month, color="#3b6ea8")
    if average_values is not None:
        label = f"average of the {months_before} months before"
        axis.barh(positions + 0.2, average_values, height=0.4, label=label, color="#b8c7d9")
    axis.set_yticks(positions, names, fontsize=8)
    axis.invert_yaxis()
    axis.set_xlabel("audio-visual papers")
    axis.legend(fontsize=8)
    axis.set_title(f"Papers per section: {month} against the months before")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


_COLOURS = plt.get_cmap("tab10").colors
_LINES_AND_MARKERS = (("-", "o"), ("--", "s"), (":", "^"))


def series_styles(count: int) -> list[dict[str, object]]:
    """A colour, line style and marker for each of ``count`` series: ten colours, then the same colours with
    the next line style and marker, so that up to 30 series never look alike (matplotlib's own cycle repeats
    its colours from the eleventh line on, and the taxonomy has eleven techniques)."""
    styles = []
    for index in range(count):
        line, marker = _LINES_AND_MARKERS[index // len(_COLOURS) % len(_LINES_AND_MARKERS)]
        styles.append({"color": _COLOURS[index % len(_COLOURS)], "linestyle": line, "marker": marker})
    return styles


def line_chart(path: Path, months: list[str], series: dict[str, list[int]], title: str) -> None:
    """One line per series over the months."""
    figure, axis = plt.subplots(figsize=(10, 4.2), dpi=110)
    for (name, values), style in zip(series.items(), series_styles(len(series)), strict=True):
        axis.plot(months, values, markersize=3, label=name, **style)
    axis.set_ylabel("papers")
    axis.set_title(title)
    axis.tick_params(axis="x", rotation=45, labelsize=8)
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
