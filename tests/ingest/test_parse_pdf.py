"""Tests for ingest.parse_pdf on real PDFs that Chromium printed from HTML fixtures.

The fixtures (tests/stub_data/pdf/*.pdf, made by make_pdfs.py from src/*.html) keep
Chromium's default page header (date, time, title) and footer (URL, "page/pages"). Each
test reads what a person sees in the source HTML and checks the parser recovered it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.errors import SourceError
from ingest.fetch import read_path
from ingest.parse import parse_page
from ingest.parse_pdf import _dated_season
from records import OVERVIEW, Block, Page, Section

PDFS = Path(__file__).resolve().parents[1] / "stub_data" / "pdf"


def parse(name: str) -> list[Section]:
    (page,) = read_path(PDFS / name)
    assert page.kind == "pdf"
    return parse_page(page)


def all_text(sections: list[Section]) -> str:
    return "\n".join(s.text for s in sections)


@pytest.fixture(scope="module")
def spring() -> list[Section]:
    return parse("bulletin-spring-2023.pdf")


def test_headings_become_the_section_tree_without_their_numbers(spring: list[Section]) -> None:
    assert [s.heading_path for s in spring] == [
        ("CP ITG pharmacy IT bulletin",),  # the title's own section: the masthead
        ("Pharmacy First and GP Connect", "GP Connect Update Record"),
        ("Pharmacy First and GP Connect", "Getting ready"),
        ("Smartcards and identity",),
        ("Connectivity", "HSCN migration"),
        ("Connectivity", "HSCN migration", "Funding"),  # a bold line of body size
        ("Next meeting",),
    ]
    assert {s.page_title for s in spring} == {"CP ITG pharmacy IT bulletin"}


def test_each_section_cites_the_page_it_is_on(spring: list[Section]) -> None:
    url = (PDFS / "bulletin-spring-2023.pdf").resolve().as_uri()
    assert [s.url for s in spring] == [f"{url}#page={n}" for n in (1, 1, 1, 1, 2, 2, 3)]
    assert {s.page_url for s in spring} == {url}


def test_season_comes_from_the_masthead(spring: list[Section]) -> None:
    assert {s.season for s in spring} == {"Spring 2023"}
    assert {s.season_order for s in spring} == {20231}


def test_bullets_and_numbered_items_stay_whole_items(spring: list[Section]) -> None:
    update_record, getting_ready = spring[1], spring[2]
    assert update_record.blocks == (
        Block("li", "GP Connect Update Record went live for community pharmacy consultations "
                    "on 6 March 2023."),
        Block("li", "Pharmacy systems send each consultation summary to the patient’s "
                    "registered GP practice within 24 hours of the consultation, so the "
                    "practice can file it in the patient record without retyping."),
    )  # fmt: skip
    assert getting_ready.blocks == (
        Block("p", "Contractors should check three things before their first Update Record "
                   "consultation:"),
        Block("ol", "Their clinical system supplier has switched the feature on.", 1),
        Block("ol", "Every pharmacist has a smartcard with the right role profile.", 2),
        Block("ol", "The pharmacy’s NHSmail shared mailbox is monitored.", 3),
    )  # fmt: skip


def test_a_wrapped_paragraph_is_joined_back(spring: list[Section]) -> None:
    (paragraph,) = spring[3].blocks
    assert paragraph == Block(
        "p",
        "Virtual smartcards using Windows Hello for Business are now approved for 142 "
        "pharmacy sites in the pilot, and the group asked NHS England to publish the "
        "assurance criteria before the wider rollout begins later in the year.",
    )


def test_running_header_footer_and_page_numbers_are_gone(spring: list[Section]) -> None:
    text = all_text(spring)
    assert "127.0.0.1" not in text  # the footer's URL
    assert "1/3" not in text and "2/3" not in text and "3/3" not in text
    assert " AM " not in f" {text} " and " PM " not in f" {text} "  # the header's time
    # The header repeats the page title; the title itself is a heading, not content.
    assert "CP ITG pharmacy IT bulletin - Spring 2023" not in text


def test_a_table_is_read_row_by_row() -> None:
    sections = parse("supplier-assurance-december-2022.pdf")
    status = next(s for s in sections if s.heading_path == ("Supplier assurance status",))
    assert status.blocks == (
        Block("p", "The table lists each pharmacy system supplier and where its assurance "
                   "stands."),
        Block("row", "Supplier: Northwind Pharmacy Systems; System: Orbit PMR; Assured for: "
                     "EPS Phase 4 and RTEC; Status: Assured"),
        Block("row", "Supplier: Contoso Health; System: Dispense Plus; Assured for: GP "
                     "Connect Update Record; Status: In testing"),
        Block("row", "Supplier: Fabrikam Clinical; System: PharmNote; Assured for: "
                     "Hypertension case-finding; Status: Assured"),
        Block("p", "Suppliers still in testing expect assurance by the end of February 2023."),
    )  # fmt: skip
    # No season word anywhere: "Published 12 December 2022" makes it the Winter 2022 one.
    assert {s.season for s in sections} == {"Winter 2022"}


def test_season_from_the_file_name_when_the_pdf_does_not_say() -> None:
    sections = parse("cp-itg-bulletin-winter-2021.pdf")
    # "During November 2021" is news inside the bulletin, not its date.
    assert "During November 2021" in all_text(sections)
    assert {s.season for s in sections} == {"Winter 2021"}


def test_a_pdf_without_a_text_layer_is_refused_clearly() -> None:
    with pytest.raises(SourceError) as info:
        parse("scanned-bulletin.pdf")
    assert info.value.reason == "no text layer (a scanned PDF?): run it through OCR first"


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"%PDF-1.4\n%%EOF\n", "not a readable PDF ("),
        (b"%PDF-1.7\n" + b"\x00\xff" * 200, "not a readable PDF ("),
    ],
)
def test_a_broken_pdf_is_one_clear_error(data: bytes, reason: str) -> None:
    page = Page("broken.pdf", "file:///broken.pdf", "", "", "pdf", data)
    with pytest.raises(SourceError) as info:
        parse_page(page)
    assert info.value.reason.startswith(reason)
    assert "\n" not in str(info.value)


def test_the_page_cap_refuses_a_long_pdf() -> None:
    from settings import Settings

    (page,) = read_path(PDFS / "bulletin-spring-2023.pdf")
    with pytest.raises(SourceError) as info:
        parse_page(page, Settings(pdf_max_pages=2))
    assert info.value.reason == "PDF has 3 pages, more than the 2-page cap"


@pytest.mark.parametrize(
    "text, season",
    [
        ("Published 20 March 2023", "Spring 2023"),
        ("June 2022 edition", "Summer 2022"),
        ("12 Sept 2021", "Autumn 2021"),
        ("December 2021", "Winter 2021"),
        ("January 2022", "Winter 2021"),  # the December bulletin's season runs into the new year
        ("bulletin-2022-02.pdf", "Winter 2021"),
        ("no date here", None),
    ],
)
def test_dates_give_the_bulletin_season(text: str, season: str | None) -> None:
    assert _dated_season(text) == season


def test_a_pdf_without_any_date_is_overview_material() -> None:
    sections = parse("kit-guide.pdf")  # a guide, not a bulletin: no season, no date
    assert sections[0].heading_path == ("Dispensary IT kit guide",)
    assert sections[0].blocks == (Block("p", "Printable edition of the web guide"),)
    assert {s.season for s in sections} == {OVERVIEW}
    assert [s.heading_path for s in sections[1:]] == [("Label printers",), ("Barcode scanners",)]
