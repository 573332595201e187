"""Structured extraction on real arXiv PDFs (facts checked by reading them), and one test per broken kind."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pymupdf
import pytest

from extract.pdf import ExtractionPool, cache_path, discard_read_pdfs, extract_document, extract_file
from tests.conftest import PDF_FIXTURES

DIFFGESTURE = PDF_FIXTURES / "2303.09119v2.pdf"  # Taming Diffusion Models for Audio-Driven Co-Speech Gesture Generation
KUCHERENKO = PDF_FIXTURES / "1903.03369v4.pdf"  # Analyzing Input and Output Representations ... (ACM, IVA '19)


@pytest.fixture(scope="module")
def diffgesture():
    return extract_document(DIFFGESTURE.read_bytes())


def test_two_column_paper_reads_in_order_without_stamp_or_running_lines(diffgesture) -> None:
    text = diffgesture.text
    assert diffgesture.status == "ok" and diffgesture.n_pages == 10
    assert text.startswith("Taming Diffusion Models for Audio-Driven Co-Speech Gesture Generation")
    assert text.index("Animating virtual avatars") < text.index("1. Introduction")
    assert "arXiv:2303.09119v2" not in text
    assert "state-of-the-art" in text or "state-of-theart" not in text


def test_sections_figures_tables_and_references_of_diffgesture(diffgesture) -> None:
    structure = diffgesture.structure
    parts = [(section.part, section.heading) for section in structure.sections if section.part != "front"]
    assert parts == [
        ("abstract", "Abstract"),
        ("introduction", "1 Introduction"),
        ("related_work", "2 Related Work"),
        ("method", "3 Our Approach"),
        ("experiments", "4 Experiments"),
        ("conclusion", "5 Conclusion"),
        ("references", "References"),
    ]
    assert structure.part("abstract").startswith("Animating virtual avatars to make co-speech gestures")
    assert len(structure.references) == 42  # [1] Ahuja et al. ... [42] Yoon et al.
    assert structure.references[0].startswith("[1] Chaitanya Ahuja")
    assert structure.references[-1].startswith("[42] Youngwoo Yoon")
    assert "2203.02291" in structure.cited_arxiv_ids  # Freeform Body Motion Generation from Speech
    assert structure.n_figures >= 3 and structure.n_tables >= 3
    # DiffGesture trains on the TED Gesture dataset and reports FID
    mentions = {mention.name: mention for mention in diffgesture.mentions}
    assert mentions["TED Gesture"].kind == "dataset" and mentions["TED Gesture"].count >= 5
    assert "FID" in mentions


def test_acm_headings_with_number_and_title_on_two_lines() -> None:
    structure = extract_document(KUCHERENKO.read_bytes()).structure
    headings = [section.heading for section in structure.sections]
    assert "1 INTRODUCTION" in headings and "REFERENCES" in headings
    assert len(structure.references) == 41


def _truncated(fraction: float) -> bytes:
    data = DIFFGESTURE.read_bytes()
    return data[: int(len(data) * fraction)]


def _encrypted() -> bytes:
    with pymupdf.open(DIFFGESTURE) as document:
        return document.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="user", owner_pw="owner")


def _many_pages(count: int) -> bytes:
    document = pymupdf.open()
    for _ in range(count):
        document.new_page()
    return document.tobytes()


@pytest.mark.parametrize(
    ("payload", "status", "reason"),
    [
        (lambda: b"", "refused", "empty file"),
        (lambda: random.Random(1).randbytes(50_000), "refused", "no %PDF header"),
        (lambda: b"<!DOCTYPE html><html><body>Paper not found</body></html>", "refused", "no %PDF header"),
        (lambda: b"%PDF-1.7\n" + random.Random(2).randbytes(5_000), "refused", "unreadable PDF"),
        (lambda: _truncated(0.5), "refused", "no pages"),
        (_encrypted, "refused", "encrypted"),
        (lambda: _many_pages(301), "refused", "page cap"),
    ],
    ids=[
        "empty",
        "random-bytes",
        "html-named-pdf",
        "garbage-after-header",
        "truncated-unrepairable",
        "encrypted",
        "too-many-pages",
    ],
)
def test_broken_files_become_a_status_and_a_reason(tmp_path: Path, payload, status: str, reason: str) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(payload())
    result = extract_file(path)
    assert (result.status, result.text) == (status, None)
    assert reason in result.reason


def test_truncated_but_repaired_is_read_and_flagged(tmp_path: Path) -> None:
    path = tmp_path / "truncated.pdf"
    path.write_bytes(_truncated(0.99))
    result = extract_file(path)
    assert result.status == "repaired" and "repaired" in result.reason
    assert result.text.startswith("Taming Diffusion Models")


def test_pool_turns_a_stuck_extraction_into_a_timeout_and_finishes_the_rest(tmp_path: Path) -> None:
    files = sorted(PDF_FIXTURES.glob("*.pdf"))[:3]
    with ExtractionPool(workers=2, timeout_s=0.001, memory_bytes=2 * 2**30) as pool:
        results = dict(pool.map([(path.stem, path) for path in files]))
    assert set(results) == {path.stem for path in files}  # each file answered once
    assert results[files[0].stem].status == "failed" and "took over 0.001s" in results[files[0].stem].reason
    assert all(r.status == "failed" and "took over" in r.reason for r in results.values() if not r.has_text)
    with ExtractionPool(workers=2, timeout_s=60, memory_bytes=2 * 2**30) as pool:
        generous = dict(pool.map([(path.stem, path) for path in files]))
    assert all(result.status == "ok" for result in generous.values())


def _dense_page(path: Path) -> Path:
    """One page holding 2.4 million characters: reading it takes about 200 MB."""
    document = pymupdf.open()
    page = document.new_page(width=3000, height=6000)
    page.insert_text((10, 10), "\n".join(["lorem ipsum dolor sit amet " * 40] * 2400), fontsize=2)
    document.save(path, deflate=True)
    return path


def test_memory_limit_fails_the_file_not_the_run(tmp_path: Path) -> None:
    dense = _dense_page(tmp_path / "dense.pdf")
    with ExtractionPool(workers=1, timeout_s=60, memory_bytes=40 * 2**20) as pool:
        results = dict(pool.map([("dense", dense), ("diffgesture", DIFFGESTURE)]))
    assert results["dense"].status == "failed" and results["dense"].text is None
    assert results["diffgesture"].status == "ok"  # the next file in the same pool is read as usual


def test_only_the_pdfs_whose_text_was_read_are_discarded(tmp_path: Path) -> None:
    def cached(body: bytes) -> Path:
        path = cache_path(tmp_path, hashlib.sha256(body).hexdigest())
        path.write_bytes(body)
        return path

    readable = cached((PDF_FIXTURES / "1903.03369v4.pdf").read_bytes())
    broken = cached(b"%PDF-1.7\n" + b"\0" * 64)
    left_behind = cached(b"%PDF-1.7\n a run stopped after storing this one's text")
    extractions = [extract_file(readable), extract_file(broken)]
    assert [extraction.has_text for extraction in extractions] == [True, False]
    read = {extraction.sha256 for extraction in extractions if extraction.has_text} | {left_behind.stem}
    assert discard_read_pdfs(tmp_path, read) == 2
    assert not readable.exists() and not left_behind.exists()
    assert broken.exists()  # kept for `avi extract` to say why
    assert discard_read_pdfs(tmp_path, read) == 0  # a second pass finds nothing to do
