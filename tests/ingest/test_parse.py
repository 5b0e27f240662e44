"""Tests for ingest.parse: the bundled snapshot against its text capture, and pages it never saw.

The snapshot's expected sections are derived from the plain-text capture
(data/corpus/...txt) on its own reading rules, not from the snapshot builder, so the
parser is checked against what a person reading the capture sees.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from ingest import snapshot_pages
from ingest.fetch import SourceError, read_path
from ingest.parse import parse_page, season_of
from records import OVERVIEW, Page, Section

REPO = Path(__file__).resolve().parents[2]
CAPTURE = REPO / "data" / "corpus" / "cp-itg-workstream-updates-archive.txt"
STUB = REPO / "tests" / "stub_data"
LIVE_URL = (
    "https://archive.psnc.org.uk/contract-it/pharmacy-it/policy-the-nhs-and-it/"
    "community-pharmacy-it-group-cpitg/community-pharmacy-it-group-cp-itg-workstream-updates-archive/"
)
TITLE = "Community Pharmacy IT Group (CP ITG) workstream updates (archive)"
SEASON_LINE = re.compile(r"^(Spring|Summer|Autumn|Winter) (\d{4}) updates$")
# Page-level blocks of the capture that are not bulletin seasons (see data/corpus/README.md).
PAGE_LEVEL = ("Workstreams (overview)", "Get involved")
SNAPSHOT_CHROME = (
    "Funding & Statistics",
    "Dispensing & Supply",
    "Medicine Safety",
    "Skip to content",
    "Share this page",
    "Last updated",
    "We use cookies on this website",
    "cookie policy",
    "Latest Contract & IT news",
    "View more Contract & IT news",
    "Pharmacy IT bulletin: Spring 2022 edition published",
    "Reminder: keep your NHS website profile up to date",
    "Smartcards: how to check whether yours needs replacing",
    "CP ITG meeting summary now available",
    "Contractor briefing: EPS endorsement guidance",
    "Related pages",
    "Return to the Pharmacy IT hub",
    "Return to the",
    "IT a-z index",
    "Privacy policy",
    "Hosier Lane",
    "© Pharmaceutical Services Negotiating Committee",
    "All rights reserved",
)


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@cache
def capture_sections() -> list[tuple[tuple[str, str], list[str]]]:
    """(season, heading) and the content lines under it, for each capture heading with text.

    Reading rules of the capture (data/corpus/README.md): a line starting with "•" or "N."
    is a list item; a line ending in sentence punctuation, or too long for a heading, is a
    paragraph; any other line is a heading. Content ends at the "Return to ..." chrome line.
    """
    lines = [line for line in CAPTURE.read_text(encoding="utf-8").splitlines() if line.strip()]
    title, body = lines[0].strip(), lines[1:]
    if body[0].strip() == title:  # the capture repeats the page title
        body = body[1:]
    found: list[tuple[int, tuple[str, str], list[str]]] = []
    season, heading, number = OVERVIEW, title, 0  # number: which heading line we are under
    for line in body:
        text = line.strip()
        if text.startswith("Return to the Pharmacy IT hub"):
            break
        is_item = text.startswith("•") or re.match(r"\d+\.\s", text)
        if is_item or text.endswith((".", ":", ";", "!", "?")) or len(text) > 80:
            content = squash(re.sub(r"^(•|\d+\.)\s*", "", text))
            if found and found[-1][0] == number:
                found[-1][2].append(content)
            else:
                found.append((number, (season, heading), [content]))
            continue
        number += 1
        match = SEASON_LINE.match(text)
        if match:
            season, heading = f"{match[1]} {match[2]}", text
            continue
        if text in PAGE_LEVEL:
            season = OVERVIEW
        heading = text
    return [(key, content) for _, key, content in found]


@pytest.fixture(scope="module")
def snapshot_page() -> Page:
    (page,) = snapshot_pages()
    return page


@pytest.fixture(scope="module")
def sections(snapshot_page: Page) -> list[Section]:
    return parse_page(snapshot_page)


def find(sections: list[Section], season: str, *path: str) -> Section:
    matches = [s for s in sections if s.season == season and s.heading_path == path]
    assert len(matches) == 1, f"{season} > {' > '.join(path)}: {len(matches)} sections"
    return matches[0]


def parse_stub(name: str) -> list[Section]:
    (page,) = read_path(STUB / name)
    return parse_page(page)


# ---------------------------------------------------------------- the bundled snapshot


def test_snapshot_has_sections_for_every_season(sections: list[Section]) -> None:
    assert {s.season for s in sections} == {OVERVIEW, "Summer 2021", "Autumn 2021", "Winter 2021"}
    # Spring 2022 has a heading on the page but nothing under it: no section, no season.
    assert not [s for s in sections if "2022" in s.season]


def test_snapshot_sections_are_the_capture_headings_with_text(sections: list[Section]) -> None:
    expected = [key for key, _ in capture_sections()]
    got = [(s.season, s.heading_path[-1]) for s in sections]
    assert got == expected


def test_snapshot_section_text_is_the_capture_text(sections: list[Section]) -> None:
    """Each section holds exactly the capture's lines under its heading, in order."""
    for (key, content), section in zip(capture_sections(), sections, strict=True):
        assert [squash(b.text) for b in section.blocks] == content, key


def test_no_section_holds_page_chrome(sections: list[Section]) -> None:
    for section in sections:
        text = " ".join((section.page_title, *section.heading_path, section.text))
        for chrome in SNAPSHOT_CHROME:
            assert chrome not in text, f"{chrome!r} in {section.heading_path}"


def test_collapsed_accordion_panel_content_is_kept(sections: list[Section]) -> None:
    rtec = find(sections, "Autumn 2021", "EPS and RTEC", "Real Time Exemption Checking (RTEC)")
    assert rtec.url == LIVE_URL + "#autumn-2021-real-time-exemption-checking-rtec"
    assert "NHSBSA has led the RTEC project since January 2020." in rtec.text
    assert (
        "Contractors are now being encouraged to register for RTEC and more than three quarters "
        "of pharmacy organisations have now done so." in rtec.text
    )
    assert len(rtec.blocks) == 4


def _heading_ids(html: str) -> dict[tuple[str, str], list[str]]:
    """(season, heading text) -> ids of the headings with that text, read from the HTML."""
    soup = BeautifulSoup(html, "lxml")
    ids: dict[tuple[str, str], list[str]] = {}
    season = OVERVIEW
    for heading in soup.select("article h1, article h2, article h3, article h4"):
        text = squash(heading.get_text())
        if heading.name == "h2":
            match = SEASON_LINE.match(text)
            season = f"{match[1]} {match[2]}" if match else OVERVIEW
        ids.setdefault((season, text), []).append(heading.get("id", ""))
    return ids


def test_section_urls_are_the_live_url_and_heading_id(
    sections: list[Section], snapshot_page: Page
) -> None:
    ids = _heading_ids(snapshot_page.html)
    body = [s for s in sections if s.heading_path != (TITLE,)]
    assert len(body) == len(sections) - 1
    for section in body:
        # Summer 2021 has "IT policy updates" twice (an empty topic, then a sub-topic):
        # the parametrised test below pins which one.
        candidates = ids[(section.season, section.heading_path[-1])]
        assert section.url in {f"{LIVE_URL}#{i}" for i in candidates if i}
        assert section.page_url == LIVE_URL
        assert section.page_title == TITLE
    assert len({s.url for s in sections}) == len(sections)


def test_intro_section_url_points_at_the_page_title_anchor(
    sections: list[Section], snapshot_page: Page
) -> None:
    """The intro under the h1 is cited like every other section: page URL + #anchor.

    The contract (GUIDE: citations' `url` "with #anchor") holds for the page's intro
    too; the h1 carries id="community-pharmacy-it-group-cp-itg-workstream-updates-archive".
    """
    intro = find(sections, OVERVIEW, TITLE)
    assert intro.text.startswith("Read more about CP ITG and its work at:")
    ((h1_id,),) = [v for k, v in _heading_ids(snapshot_page.html).items() if k[1] == TITLE]
    assert intro.url == f"{LIVE_URL}#{h1_id}"


@pytest.mark.parametrize(
    ("season", "path", "order", "anchor"),
    [
        (OVERVIEW, ("Workstreams (overview)",), 0, "workstreams-overview"),
        (OVERVIEW, ("Get involved",), 0, "get-involved"),
        ("Summer 2021", ("CPCF/CPCS IT", "General"), 20212, "summer-2021-general"),
        # An h4 after an h4 replaces it: "IT policy updates" sits beside, not under,
        # "Integrated Care Systems and digital technology".
        (
            "Summer 2021",
            ("Other IT policy updates", "IT policy updates"),
            20212,
            "summer-2021-it-policy-updates-2",
        ),
        ("Autumn 2021", ("EPS and RTEC", "EPS"), 20213, "autumn-2021-eps"),
        (
            "Winter 2021",
            ("NHS Digital Clinical Safety Strategy",),
            20214,
            "winter-2021-nhs-digital-clinical-safety-strategy",
        ),
        ("Winter 2021", ("Reducing burden",), 20214, "winter-2021-reducing-burden"),
        (
            "Winter 2021",
            ("Reducing burden", "Development of pharmacy systems"),
            20214,
            "winter-2021-development-of-pharmacy-systems",
        ),
    ],
)
def test_known_sections_heading_path_and_season_order(
    sections: list[Section], season: str, path: tuple[str, ...], order: int, anchor: str
) -> None:
    section = find(sections, season, *path)
    assert section.season_order == order
    assert section.url == f"{LIVE_URL}#{anchor}"


def test_every_capture_list_item_is_one_whole_block(sections: list[Section]) -> None:
    capture = CAPTURE.read_text(encoding="utf-8")
    bullets = [squash(m) for m in re.findall(r"^\s*•\s*(.+)$", capture, re.MULTILINE)]
    numbered = [squash(m) for m in re.findall(r"^\s*\d+\.\s+(.+)$", capture, re.MULTILINE)]
    assert len(bullets) == 145 and len(numbered) == 31
    li_blocks = [squash(b.text) for s in sections for b in s.blocks if b.kind == "li"]
    ol_blocks = [squash(b.text) for s in sections for b in s.blocks if b.kind == "ol"]
    # Same multiset: every item is one block, none merged, split or lost (items repeat
    # across seasons, so count them).
    assert sorted(li_blocks) == sorted(bullets)
    assert sorted(ol_blocks) == sorted(numbered)


def test_numbered_items_keep_their_numbers(sections: list[Section]) -> None:
    workstreams = find(sections, OVERVIEW, "Workstreams (overview)")
    numbers = [b.number for b in workstreams.blocks if b.kind == "ol"]
    assert numbers == [1, 2, 3, 4, 5]
    assert "3. Good use of digital: Support the use of digital" in workstreams.text
    assert workstreams.text.startswith("CP ITG has five workstream areas:\n1. Interoperability")


def test_nested_items_follow_their_parent(sections: list[Section]) -> None:
    shielded = find(
        sections,
        "Winter 2021",
        "Interoperability and records",
        "Closure of the Shielded Patient List",
    )
    lines = shielded.text.split("\n")
    parent = next(i for i, line in enumerate(lines) if line.endswith("This means:"))
    assert lines[parent + 1].startswith("• any changes to local patient risk status")
    assert lines[parent + 2].startswith("• the high-risk flag is not an indicator")


# ---------------------------------------------------------------- pages the parser never saw


def test_wordpress_page_structure() -> None:
    sections = parse_stub("wordpress_bulletin.html")
    assert [(s.season, s.season_order, s.heading_path) for s in sections] == [
        (OVERVIEW, 0, ("Pharmacy IT bulletins 2023",)),
        ("Spring 2023", 20231, ("Prescribing and dispensing", "EPS tracker changes")),
        ("Spring 2023", 20231, ("Prescribing and dispensing", "Smartcard renewals")),
        ("Spring 2023", 20231, ("Go-live dates",)),
        ("Summer 2023", 20232, ("Connectivity", "Broadband upgrade")),
        ("Summer 2023", 20232, ("Connectivity", "NHS App: what’s new?")),
    ]
    page_url = "https://lpc.example.org/it/bulletins-2023/"  # from <link rel="canonical">
    assert {s.page_url for s in sections} == {page_url}
    assert {s.page_title for s in sections} == {"Pharmacy IT bulletins 2023"}
    assert [s.url for s in sections[1:]] == [
        page_url + "#spring-2023-eps-wrapper",  # the id sits on the heading's wrapper div
        page_url + "#spring-2023-smartcards",  # the heading's own id
        page_url + "#go-live-dates",  # no id: a slug of the heading
        page_url + "#broadband-upgrade",
        page_url + "#nhs-app-what-s-new",
    ]


def test_wordpress_page_text_is_verbatim() -> None:
    by_heading = {s.heading_path[-1]: s for s in parse_stub("wordpress_bulletin.html")}
    assert by_heading["Pharmacy IT bulletins 2023"].text == (
        "This page keeps every IT bulletin we sent to contractors in 2023, newest last."
    )
    assert by_heading["EPS tracker changes"].text == (
        "The EPS tracker now shows cancelled items, so teams can see them at a glance.\n"
        "Contractors should check the “Dispensed” tab daily; see the guide (page 4)."
    )
    assert by_heading["NHS App: what’s new?"].text == (
        "Patients can now see their nominated pharmacy in the app."
    )
    for section in by_heading.values():
        assert not re.search(r" [,.;:)?!]|\( ", section.text), section.text


def test_wordpress_nested_list_items_are_whole_blocks_in_order() -> None:
    by_heading = {s.heading_path[-1]: s for s in parse_stub("wordpress_bulletin.html")}
    blocks = by_heading["Smartcard renewals"].blocks
    assert [(b.kind, b.text) for b in blocks] == [
        ("li", "Renewal is now done online via the RA portal."),
        ("li", "Older cards need action:"),
        ("li", "Cards issued before 2018 must be replaced by 30 June 2023."),
        ("li", "Cards issued since 2018 need only a certificate refresh."),
        ("li", "Questions go to the local RA team."),
    ]


def test_wordpress_table_rows_read_as_header_value_pairs() -> None:
    by_heading = {s.heading_path[-1]: s for s in parse_stub("wordpress_bulletin.html")}
    assert [(b.kind, b.text) for b in by_heading["Go-live dates"].blocks] == [
        ("row", "System: Hub booking; Go-live: 3 April 2023; Who: All pharmacies"),
        ("row", "System: Referral inbox; Go-live: 15 May 2023; Who: Pilot sites"),
    ]


def test_wordpress_numbered_list_then_paragraph() -> None:
    by_heading = {s.heading_path[-1]: s for s in parse_stub("wordpress_bulletin.html")}
    assert by_heading["Broadband upgrade"].text == (
        "1. Order the upgrade through the HSCN catalogue.\n"
        "2. Book an engineer visit; allow 10 working days.\n"
        "The upgrade is free for contractors in the pilot area."
    )


def test_wordpress_page_chrome_is_dropped() -> None:
    chrome = (
        "Example LPC",
        "Skip to the content",
        "Pharmacy Services Directory",
        "IT & Digital Hub",
        "Contact the Office",
        "Bulletins",
        "Recent IT news",
        "Flu vaccination claims window opens",
        "New NHSmail shared mailbox guidance",
        "Posted in IT news",
        "Example Local Pharmaceutical Committee",
        "Registered charity",
        "Privacy notice",
        "We use cookies",
        "Accept all",
        "exampleTheme",
        "cookie-banner",
    )
    for section in parse_stub("wordpress_bulletin.html"):
        text = " ".join((*section.heading_path, section.text))
        for words in chrome:
            assert words not in text, f"{words!r} in {section.heading_path}"


def test_wordpress_share_and_related_blocks_inside_the_content_are_dropped() -> None:
    """Jetpack's sharing buttons and related posts sit inside .entry-content on WordPress.

    They are chrome (the parser's own CHROME_WORDS name "sharing" and "related"), but
    their classes are "sd-sharing", "sharedaddy", "jp-relatedposts".
    """
    sections = parse_stub("wordpress_jetpack.html")
    assert [(s.season, s.heading_path) for s in sections] == [
        ("Winter 2023", ("EPS phase 4",)),
    ]
    assert sections[0].text == (
        "Phase 4 of EPS went live in all GP practices in England on 1 December 2023.\n"
        "Paper FP10 tokens are now only printed when the patient asks for one."
    )


def test_plain_page_with_only_main() -> None:
    sections = parse_stub("plain_main.html")
    page_url = (STUB / "plain_main.html").resolve().as_uri()
    assert [(s.season, s.season_order, s.heading_path, s.text) for s in sections] == [
        (
            "Winter 2022",
            20224,
            ("NHS App",),
            "The NHS App now lets patients order repeat prescriptions from a nominated pharmacy.\n"
            "Pharmacies should keep their NHS website profile up to date.",
        ),
        (
            "Winter 2022",
            20224,
            ("Summary Care Record",),
            "SCR access is available to all registered pharmacy technicians.",
        ),
        ("Autumn 2022", 20223, ("NHS App",), "The NHS App passed 30 million registered users."),
    ]
    # No h1: the title comes from <title>, without the " | site name" part.
    assert {s.page_title for s in sections} == {"Digital updates"}
    assert {s.page_url for s in sections} == {page_url}
    assert sections[1].url == page_url + "#summary-care-record"
    assert len({s.id for s in sections}) == 3


def test_page_without_seasons_is_all_overview() -> None:
    sections = parse_stub("no_seasons.html")
    assert [(s.season, s.season_order, s.heading_path) for s in sections] == [
        (OVERVIEW, 0, ("About the pharmacy IT group",)),
        (OVERVIEW, 0, ("Membership",)),
        (OVERVIEW, 0, ("Membership", "Observers")),
        (OVERVIEW, 0, ("Meetings",)),
    ]
    assert sections[2].text == "Observers may attend meetings but do not vote."
    assert sections[3].url.endswith("/no_seasons.html#meetings")


def test_malformed_page_still_parses_what_is_there() -> None:
    sections = parse_stub("malformed.html")
    assert [(s.season, s.heading_path, s.page_title) for s in sections] == [
        ("Autumn 2022", ("EPS changes",), "Bulletin soup"),
        ("Autumn 2022", ("RTEC",), "Bulletin soup"),
    ]
    assert [(b.kind, b.text) for b in sections[0].blocks] == [
        ("p", "The EPS tracker moved to the new portal in October 2022."),
        ("p", "Teams should re-bookmark it."),
        ("li", "Old links stop working in December."),
        ("li", "New links work now."),
    ]
    assert sections[1].text == "RTEC now covers maternity exemptions.\nPhase 2 | January 2023"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("chrome_only.html", "no recognisable content (no headed text found)"),
        ("headings_only.html", "no recognisable content (no headed text found)"),
        ("title_only.html", "no recognisable content (the page has no body text)"),
    ],
)
def test_pages_without_content_raise_source_error(name: str, reason: str) -> None:
    (page,) = read_path(STUB / name)
    with pytest.raises(SourceError) as caught:
        parse_page(page)
    assert caught.value.source == str(STUB / name)
    assert caught.value.reason == reason


@pytest.mark.parametrize("html", ["", "   \n", "<html><head></head><body></body></html>"])
def test_empty_html_raises_source_error(html: str) -> None:
    page = Page(source="empty.html", url="https://example.org/empty", html=html, fetched_at="")
    with pytest.raises(SourceError) as caught:
        parse_page(page)
    assert caught.value.source == "empty.html"
    assert caught.value.reason == "no recognisable content (the page has no body text)"


@pytest.mark.parametrize(
    ("heading", "season"),
    [
        ("Autumn 2021 updates", "Autumn 2021"),
        ("Spring 2023 IT bulletin", "Spring 2023"),
        ("winter 2022 pharmacy IT updates", "Winter 2022"),
        ("Summer 2021", "Summer 2021"),
        ("Autumn 2021 plans for winter", None),
        ("Get involved", None),
        ("Workstreams (overview)", None),
    ],
)
def test_season_of(heading: str, season: str | None) -> None:
    assert season_of(heading) == season


# Collapsed panels whose titles are not <h1>-<h6>: accordions, <details>, bold-only lines.
ACCORDION_PAGE = """<html><body><main><h1>Page</h1><h2>Winter 2023 updates</h2><h3>EPS</h3>
<div class="accordion"><button class="accordion-title" aria-expanded="false">RTEC rollout</button>
<div class="accordion-panel" hidden><p>RTEC reached 300 sites.</p></div></div>
<details id="smart"><summary>Smartcards</summary><p>Smartcards renew online.</p></details>
<p><strong>NHS App</strong></p><p>The app has 30 million users.</p>
<p><strong>Note:</strong> a bold lead-in stays part of the text.</p>
<h3>Other</h3><p>Other text.</p>
</main></body></html>"""


def test_panel_titles_that_are_not_headings_become_sibling_sub_topics() -> None:
    sections = parse_page(Page("stub", "https://example.org/p", ACCORDION_PAGE, "now"))
    found = [(s.heading_path, s.url, [b.text for b in s.blocks]) for s in sections]
    assert found == [
        (
            ("EPS", "RTEC rollout"),
            "https://example.org/p#rtec-rollout",
            ["RTEC reached 300 sites."],
        ),
        (("EPS", "Smartcards"), "https://example.org/p#smart", ["Smartcards renew online."]),
        (
            ("EPS", "NHS App"),
            "https://example.org/p#nhs-app",
            ["The app has 30 million users.", "Note: a bold lead-in stays part of the text."],
        ),
        (("Other",), "https://example.org/p#other", ["Other text."]),
    ]
