from pathlib import Path

import pytest
from matplotlib.figure import Figure

from reports import charts
from reports.charts import line_chart, series_styles


def test_no_two_series_of_a_line_chart_look_alike() -> None:
    styles = series_styles(30)
    looks = {(style["color"], style["linestyle"], style["marker"]) for style in styles}
    assert len(looks) == 30
    # the eleventh series keeps the first one's colour but not its line: the taxonomy has eleven techniques
    assert styles[10]["color"] == styles[0]["color"] and styles[10]["linestyle"] != styles[0]["linestyle"]


def test_a_line_chart_with_more_series_than_colours_draws_every_line_its_own_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[Figure] = []
    monkeypatch.setattr(charts.plt, "close", drawn.append)  # keep the figure the chart would close
    path = tmp_path / "techniques.png"
    months = ["2026-03", "2026-04", "2026-05"]
    line_chart(path, months, {f"technique {index}": [index, index + 1, index] for index in range(12)}, "by month")
    assert path.read_bytes().startswith(b"\x89PNG")
    [figure] = drawn
    lines = figure.axes[0].get_lines()
    assert len({(line.get_color(), line.get_linestyle(), line.get_marker()) for line in lines}) == len(lines) == 12
