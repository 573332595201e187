"""PDF text extraction on real arXiv PDFs and on what is not a PDF."""

from __future__ import annotations

import pytest

from extract.pdf import PdfRefused, extract_text
from tests.conftest import PDF_FIXTURES


def test_two_column_paper_reads_in_order_without_the_margin_stamp() -> None:
    # DiffGesture (CVPR 2023): title, then the abstract, column by column; arXiv stamp in the margin.
    result = extract_text((PDF_FIXTURES / "2303.09119v2.pdf").read_bytes())
    assert result.n_pages == 10
    assert result.text.startswith("Taming Diffusion Models for Audio-Driven Co-Speech Gesture Generation")
    abstract_at = result.text.index("Abstract")
    assert result.text.index("Animating virtual avatars", abstract_at) < result.text.index("1. Introduction")
    assert "arXiv:2303.09119v2" not in result.text
    assert "multiple modalities" in result.text


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "empty file"),
        (b"<html><body>Paper not found</body></html>", "no %PDF header"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 4, "unreadable PDF"),
    ],
)
def test_what_is_not_a_readable_pdf_is_refused(payload: bytes, reason: str) -> None:
    with pytest.raises(PdfRefused, match=reason):
        extract_text(payload)
