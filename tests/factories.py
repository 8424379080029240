"""Small real documents built on the fly for tests (no fixtures checked in)."""

from __future__ import annotations

import zipfile
from pathlib import Path


def write_docx(path: Path, title: str, sections: dict[str, list[str]]) -> Path:
    from docx import Document

    doc = Document()
    doc.add_heading(title, level=1)
    for heading, paragraphs in sections.items():
        doc.add_heading(heading, level=2)
        for text in paragraphs:
            doc.add_paragraph(text)
    doc.save(str(path))
    return path


def write_pptx(path: Path, slides: list[tuple[str, list[str]]]) -> Path:
    from pptx import Presentation

    prs = Presentation()
    for title, bullets in slides:
        slide = prs.slides.add_slide(prs.slide_layouts[1])
        slide.shapes.title.text = title
        body = slide.placeholders[1].text_frame
        body.text = bullets[0]
        for bullet in bullets[1:]:
            body.add_paragraph().text = bullet
    prs.save(str(path))
    return path


def write_zip_bomb_docx(path: Path, unpacked_bytes: int) -> Path:
    """A DOCX-shaped archive whose document.xml inflates to `unpacked_bytes` of zeros."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("word/document.xml", "w") as member:
            block = b"0" * (1 << 20)
            for _ in range(unpacked_bytes // len(block)):
                member.write(block)
    return path


def write_encrypted_pdf(source_pdf: Path, path: Path, password: str = "secret") -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(str(source_pdf)).pages:
        writer.add_page(page)
    writer.encrypt(user_password=password, owner_password=password)
    with path.open("wb") as fh:
        writer.write(fh)
    return path


def long_text(paragraphs: int, seed: int = 0) -> str:
    """Varied, sentence-like prose: enough distinct words that chunks are not near-duplicates."""
    import random

    rng = random.Random(seed)
    subjects = ["The fleet controller", "Each warehouse robot", "The on-call engineer", "Finance", "The HR team",
                "A contractor", "The security officer", "Every manager", "The Gdańsk office", "The board"]
    verbs = ["must approve", "reviews", "records", "escalates", "rejects", "schedules", "audits", "documents"]
    objects = ["expense claims above 5,000 NOK", "firmware updates", "incident reports", "parental leave requests",
               "laptop encryption keys", "database failover drills", "travel bookings", "visitor badges",
               "quarterly budgets", "VPN certificates", "safety inspections", "battery replacements"]
    out = []
    for p in range(paragraphs):
        sentences = [
            f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)} within {rng.randint(1, 90)} days "
            f"under rule {p}.{s} (case {rng.randint(1000, 99999)})."
            for s in range(rng.randint(3, 7))
        ]
        out.append(" ".join(sentences))
    return "\n\n".join(out)
