"""The fallback declaration as a printable PDF (fpdf2, imported only here: no other path pays for it)."""

from __future__ import annotations

from typing import Any


def _latin1(text: Any) -> str:
    # the PDF core fonts are Latin-1; anything else (a Chinese description…) prints as '?'
    return str(text).replace("—", "-").replace("\u2019", "'").encode("latin-1", "replace").decode("latin-1")


def render(document: dict[str, Any]) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, _latin1(document["title"]), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, _latin1(f"Bureau de douane : {document.get('customs_office') or ''}"), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, _latin1(f"LRN : {document['lrn']}    Système : {document['system']}"), new_x="LMARGIN", new_y="NEXT")
    for section in document["sections"]:
        _section(pdf, section["title"], section["fields"])
    for number, fields in enumerate(document["items"], start=1):
        _section(pdf, f"Données au niveau article - article {number}", fields)
    pdf.ln(4)
    pdf.set_font("Helvetica", "", 10)
    established = document.get("established_at") or ""
    pdf.cell(
        0, 6, _latin1(f"Date et heure d'établissement de la déclaration : {established}"), new_x="LMARGIN", new_y="NEXT"
    )
    pdf.ln(10)
    pdf.cell(0, 6, "Signature du déclarant : ______________________________", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _section(pdf: Any, title: str, fields: list[dict[str, Any]]) -> None:
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, _latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    for field in fields:
        value = field["value"]
        line = f"{field['label']} : {value if value else '______________________'}"
        pdf.multi_cell(0, 5, _latin1(line), new_x="LMARGIN", new_y="NEXT")
