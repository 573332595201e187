"""The hub patch, on the survey's real hub README."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from avi_radar.cli import main
from classify.taxonomy import load_taxonomy
from core.settings import get_settings
from reports.hub import HubCandidate, HubError, build_patch, read_hub
from tests.conftest import SHARED

HUB = SHARED / "fixtures" / "hub" / "README.md"
V2A, DIFFUSION = "generation.cross_modal.video_to_audio", "technique.generative.diffusion"


def _taxonomy():  # noqa: ANN202
    return load_taxonomy(get_settings().taxonomy_file)


def _candidate(arxiv_id: str, title: str, labels: dict[str, float], abstract: str = "An abstract.") -> HubCandidate:
    return HubCandidate(arxiv_id, title, abstract, None, datetime(2026, 5, 4, tzinfo=UTC), labels)


def _section(readme: str, heading: str) -> str:
    """The text under a heading, to the next heading."""
    return readme.split(f"### {heading}\n", 1)[1].split("\n#", 1)[0]


def test_new_papers_go_under_their_headings_and_nothing_is_removed(tmp_path: Path) -> None:
    taxonomy = _taxonomy()
    hub = read_hub(HUB, taxonomy)
    candidates = [
        _candidate(
            "2605.00001", "Foley for Silent Films", {V2A: 0.91, DIFFUSION: 0.7}, "Code: https://github.com/foo/bar."
        ),
        _candidate("2503.07539", "MMAudio, listed already by its id", {V2A: 0.99}),
        # listed already by a near-identical title (another id, another case)
        _candidate(
            "2605.00002",
            "MMAudio: taming multimodal joint training for high-quality video-to-audio synthesis.",
            {V2A: 0.9},
        ),
        _candidate("2605.00003", "Background only", {"context.audio_understanding": 0.9}),
        _candidate("2605.00004", "Unsure", {V2A: 0.3}),
    ]
    patch = build_patch(hub, taxonomy, candidates, min_score=0.5)
    assert patch.lines_removed == 0 and patch.lines_added == 2  # the new paper, under two headings
    assert [c.arxiv_id for c in patch.already_listed] == ["2503.07539", "2605.00002"]
    assert [c.arxiv_id for c in patch.unplaced] == ["2605.00003", "2605.00004"]  # context never; below the score
    line = (
        "+ [**Foley for Silent Films**](https://arxiv.org/abs/2605.00001) "
        "[![Paper](https://img.shields.io/badge/arxiv-b22222)]() "
        "[![Star](https://img.shields.io/github/stars/foo/bar.svg?style=social&label=Star)](https://github.com/foo/bar)"
        "  <!-- 05-26 -->"
    )
    video_to_audio = _section(patch.readme, "Video-to-Audio Generation").rstrip("\n").splitlines()
    assert video_to_audio[-1] == line  # after the heading's last entry, in the hub's own format
    assert line in _section(patch.readme, "Diffusion-based Generation")
    # the original lines are all there, in order
    assert [row for row in patch.readme.splitlines() if row != line] == hub.lines
    # labels and headings that do not meet are reported, not guessed
    assert "perception.content.recognition" in patch.labels_without_heading
    assert "interaction.agentic" in patch.labels_without_heading
    assert any("Updates" in heading for heading in patch.headings_without_label)

    again_path = tmp_path / "README.md"
    again_path.write_text(patch.readme, encoding="utf-8")
    again = build_patch(read_hub(again_path, taxonomy), taxonomy, candidates, min_score=0.5)
    assert again.lines_added == 0 and again.readme == patch.readme  # applying it to its own output adds nothing


def test_a_file_that_is_not_a_hub_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(HubError, match="not a hub README"):
        read_hub(SHARED / "corpus" / "README.md", _taxonomy())
    assert main(["hub-patch", "--hub", str(SHARED / "corpus" / "README.md"), "--out", str(tmp_path)]) == 2
    assert "not a hub README" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing written


def test_hub_patch_from_a_real_warehouse(day_warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "patch"
    arguments = ["hub-patch", "--hub", str(HUB), "--out", str(out), "--since", "2026-05-01", "--until", "2026-05-31"]
    assert main([*arguments, "--min-score", "0"]) == 0
    printed = capsys.readouterr().out
    readme, diff, pull_request = ((out / name).read_text() for name in ("README.md", "hub.diff", "PR.md"))
    added = [line[1:] for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert added and not [line for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    assert f"{len(added)} lines added" in printed
    for arxiv_id in re.findall(r"arxiv\.org/abs/([\d.]+)\)", "\n".join(added)):
        assert arxiv_id in pull_request  # every added paper is in the pull-request body, with its score
    assert "## How they were chosen" in pull_request and "relevance:av" in pull_request
    # the patched README given back as the hub: nothing more to add
    assert (
        main(
            [
                "hub-patch",
                "--hub",
                str(out / "README.md"),
                "--out",
                str(tmp_path / "again"),
                "--min-score",
                "0",
                "--since",
                "2026-05-01",
                "--until",
                "2026-05-31",
            ]
        )
        == 0
    )
    assert (tmp_path / "again" / "README.md").read_text() == readme
