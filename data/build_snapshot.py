"""Rebuild the bundled HTML snapshot of the CP ITG updates archive page from its text capture.

The project cannot reach archive.psnc.org.uk when it is built or tested, so it ships an HTML
snapshot of the page and ingests it exactly as it would ingest the live page. This script
regenerates that snapshot (and its manifest) from `corpus/cp-itg-workstream-updates-archive.txt`
with the standard library only, deterministically: the same capture always gives byte-identical
files, so `--check` can tell whether the committed snapshot is current.

Usage: python data/build_snapshot.py [--check] [--verbose]
    (no flag)   write snapshot/cp-itg-workstream-updates-archive.html and snapshot/manifest.json
    --check     write nothing; exit 1 if either file on disk differs from what would be written
    --verbose   print the heading tree (level, text, id) to stderr so the levels can be reviewed

How the text capture is read (one line at a time; blank or whitespace-only lines are ignored):
- A line starting with "•" (after optional spaces) is a bullet item; a line starting with "N."
  is a numbered item. Consecutive items make one list (<ul> / <ol>, "N." dropped, <ol start>
  when numbering does not start at 1). A more-indented item (4 spaces instead of 2) is nested
  inside the item above it, as the indentation of the capture shows it was on the page.
- Any other line (stripped) is a paragraph if it ends with . : ; ! or ? (which covers ")."),
  or is longer than 80 characters ("Healthwatch reported on how ... GP appointments" is 85);
  otherwise it is a heading. So "Other updates:" is a paragraph, "Integrated Care Systems (ICS)"
  a heading.
- The first line is the page title (<h1 class="entry-title">); the capture repeats it as the
  next line, and that duplicate is dropped.
- "Workstreams (overview)", each "<Season> <Year> updates" line and "Get involved" (a page-level
  block after the seasons) are <h2>.
- Inside a season a heading is a topic (<h3>) if its text is one of TOPIC_HEADINGS, else a
  sub-topic (<h4>). One exception: a TOPIC_HEADINGS name is an <h4> if it directly follows an
  <h4> with no content between AND its text is contained in the open topic's own name (a topic
  cannot sit inside itself). That catches Summer 2021's "IT policy updates" under "Other IT
  policy updates" > "Integrated Care Systems and digital technology". The adjacency condition
  alone is not enough: it would also demote "Promoting good IT, and user research opportunity"
  (Summer and Autumn 2021), "Reducing burden" (Winter 2021) and "Innovation" (Autumn 2021),
  which the capture presents as workstream topics.
- Content stops at the "Return to the Pharmacy IT hub; ..." line. It and the two lines after
  it ("Latest Contract & IT news", "View more Contract & IT news >") are site chrome: they are
  rendered in the sidebar / return-links area, outside the entry content.

Ids: every heading gets a slug id (lowercase, runs of non-alphanumerics -> "-", trimmed).
Headings inside a season are prefixed with the season's slug ("autumn-2021-eps-and-rtec"),
season h2s keep their plain slug ("autumn-2021-updates"), and any id still taken gets -2, -3.

The page chrome (masthead, menu, breadcrumbs, sidebar news, footer, cookie notice, scripts)
models the WordPress theme of the live archive site so the ingest's boilerplate removal is
exercised; the news items and chrome links in it are illustrative, not taken from the capture.
One real-looking collapsed accordion wraps Autumn 2021's "Real Time Exemption Checking (RTEC)"
sub-topic, as the live page hid content in collapsed panels; its text is the capture's own.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

# Paths are relative to this file so the script works from any working directory.
HERE = Path(__file__).resolve().parent
CAPTURE_PATH = HERE / "corpus" / "cp-itg-workstream-updates-archive.txt"
SNAPSHOT_DIR = HERE / "snapshot"
HTML_NAME = "cp-itg-workstream-updates-archive.html"
MANIFEST_NAME = "manifest.json"
# Recorded in the manifest as a repo-relative path, independent of where the repo is checked out.
SOURCE_CAPTURE = "data/corpus/cp-itg-workstream-updates-archive.txt"

SITE = "https://archive.psnc.org.uk"
LIVE_URL = (
    f"{SITE}/contract-it/pharmacy-it/policy-the-nhs-and-it/community-pharmacy-it-group-cpitg/"
    "community-pharmacy-it-group-cp-itg-workstream-updates-archive/"
)
# The group's page and the current-update page, as given in data/corpus/README.md.
CPITG_URL = (
    "https://psnc.org.uk/contract-it/pharmacy-it/policy-the-nhs-and-it/"
    "community-pharmacy-it-group-cpitg/"
)
ITUPDATE_URL = f"{SITE}/itupdate"
EPS_PATH = "/contract-it/pharmacy-it/electronic-prescription-service-eps/"
# A fixed capture date, never today's, so the output is deterministic. It is the date taken for
# this capture: the page already carried its "Spring 2022 updates" heading by then.
CAPTURED = "2022-03-31"
CAPTURED_HUMAN = "31 March 2022"
SITE_NAME = "PSNC Website"

# Recurring workstream topic names, taken from the capture's headings: inside a season these
# are topics (h3); any other heading is a sub-topic (h4). See the module docstring.
TOPIC_HEADINGS: frozenset[str] = frozenset(
    {
        "CPCF/CPCS IT",
        "IT policy updates",
        "Other IT policy updates",
        "Interoperability and records",
        "IG, identity and security",
        "Promoting good IT, and user research opportunity",
        "Other updates: reducing burden",
        "Key reducing burden updates",
        "Reducing burden",
        "EPS and RTEC",
        "Apps, wearables and technologies (incl videocon)",
        "NHS Digital Clinical Safety Strategy",
        "Integrated Care Systems (ICS)",
        "Innovation",
        "IT policy: lessons from the COVID-19 pandemic",
        "Digital clinical safety",
        "IT policy: other updates",
    }
)
SEASON_RE = re.compile(r"^(Spring|Summer|Autumn|Winter) \d{4} updates$")
# Page-level h2 blocks that are not seasons.
PAGE_H2 = ("Workstreams (overview)", "Get involved")
# First line of the trailing site chrome; content stops here.
CHROME_START = "Return to the Pharmacy IT hub"
NEWS_TITLE = "Latest Contract & IT news"
NEWS_MORE_PREFIX = "View more Contract & IT news"
# The sub-topic rendered as a collapsed accordion: (season heading, sub-topic heading).
ACCORDION = ("Autumn 2021 updates", "Real Time Exemption Checking (RTEC)")

BULLET_RE = re.compile(r"^(\s*)•\s*(.*)$")
NUMBER_RE = re.compile(r"^(\s*)(\d+)\.\s+(.*)$")
PARAGRAPH_ENDINGS = (".", ":", ";", "!", "?")
MAX_HEADING_CHARS = 80

# Links only where the text names a page we know the address of, plus bare URLs; the linked
# text is the capture's text unchanged. E-mail addresses stay plain: some are format
# examples ("ODScode@nhs.net"), not addresses to write to.
CONTENT_LINK_PHRASES: dict[str, str] = {
    "the Community Pharmacy IT Group (CP ITG) webpage": CPITG_URL,
    "the CP ITG webpage": CPITG_URL,
}
RETURN_LINK_PHRASES: dict[str, str] = {
    "Pharmacy IT hub": f"{SITE}/contract-it/pharmacy-it/",
    "CP ITG workstream recent update": ITUPDATE_URL,
    "CP ITG": CPITG_URL,
    "IT a-z index": f"{SITE}/contract-it/pharmacy-it/pharmacy-it-a-z/",
}
URL_RE = r"https?://[^\s<>\"]+[^\s<>\".,;:!?)]"


# ---------------------------------------------------------------------------------------------
# Reading the capture
# ---------------------------------------------------------------------------------------------


@dataclass
class Heading:
    level: int
    text: str
    id: str = ""
    season: str | None = None  # the season h2 this heading sits in, if any


@dataclass
class Paragraph:
    text: str


@dataclass
class ListItem:
    text: str
    number: int | None  # the "N." of a numbered item, None for bullets
    children: list[ListBlock] = field(default_factory=list)


@dataclass
class ListBlock:
    ordered: bool
    items: list[ListItem] = field(default_factory=list)


Block = Heading | Paragraph | ListBlock


@dataclass
class Capture:
    title: str
    blocks: list[Block]
    return_line: str
    news_title: str
    news_more: str
    description: str


@dataclass
class _RawItem:
    indent: int
    ordered: bool
    number: int | None
    text: str


def read_capture(path: Path) -> Capture:
    """Split the capture into the title, the content blocks and the trailing chrome lines."""
    lines = [raw.rstrip("\n") for raw in path.read_text(encoding="utf-8").splitlines()]
    lines = [raw for raw in lines if raw.strip()]  # blank / whitespace-only lines carry nothing
    if not lines:
        sys.exit(f"build_snapshot: {path} is empty")
    title = lines[0].strip()
    body = lines[1:]
    if body and body[0].strip() == title:  # the capture repeats the title once
        body = body[1:]

    chrome_at = next(
        (i for i, raw in enumerate(body) if raw.strip().startswith(CHROME_START)), None
    )
    if chrome_at is None:
        sys.exit(
            f"build_snapshot: no {CHROME_START!r} line in {path}; cannot tell content from chrome"
        )
    content, chrome = body[:chrome_at], [raw.strip() for raw in body[chrome_at:]]
    # Fail loudly if the chrome changes shape rather than silently dropping new content.
    if len(chrome) != 3 or chrome[1] != NEWS_TITLE or not chrome[2].startswith(NEWS_MORE_PREFIX):
        sys.exit(f"build_snapshot: unexpected trailing chrome lines: {chrome!r}")

    blocks = _blocks(content)
    _assign_levels(blocks, title)
    _assign_ids(blocks)
    # The meta description is the capture's own sentence describing the page, if it has one.
    paragraphs = [b.text for b in blocks if isinstance(b, Paragraph)]
    description = next(
        (t for t in paragraphs if "webpage sets out" in t), paragraphs[0] if paragraphs else title
    )
    return Capture(title, blocks, chrome[0], chrome[1], chrome[2], description)


def _blocks(lines: list[str]) -> list[Block]:
    """Classify lines into headings (level decided later), paragraphs and (nested) lists."""
    blocks: list[Block] = []
    run: list[_RawItem] = []  # consecutive list lines, turned into lists when the run ends

    def end_run() -> None:
        if run:
            blocks.extend(_lists(run))
            run.clear()

    for raw in lines:
        if bullet := BULLET_RE.match(raw):
            run.append(_RawItem(len(bullet.group(1)), False, None, bullet.group(2).strip()))
            continue
        if numbered := NUMBER_RE.match(raw):
            run.append(
                _RawItem(
                    len(numbered.group(1)), True, int(numbered.group(2)), numbered.group(3).strip()
                )
            )
            continue
        end_run()
        text = raw.strip()  # also drops the stray no-break space before one heading
        if text.endswith(PARAGRAPH_ENDINGS) or len(text) > MAX_HEADING_CHARS:
            blocks.append(Paragraph(text))
        else:
            blocks.append(Heading(0, text))
    end_run()
    return blocks


def _lists(run: list[_RawItem]) -> list[ListBlock]:
    """Turn a run of list lines into top-level lists, nesting more-indented items.

    Same indent and same kind continue a list; a change of kind at the same indent starts a
    sibling list; a deeper indent opens a list inside the previous item.
    """
    top: list[ListBlock] = []
    stack: list[tuple[int, ListBlock, list[ListBlock]]] = []  # (indent, list, where it lives)
    for item in run:
        while stack and item.indent < stack[-1][0]:
            stack.pop()
        node = ListItem(item.text, item.number)
        if stack and item.indent == stack[-1][0] and stack[-1][1].ordered == item.ordered:
            stack[-1][1].items.append(node)
            continue
        if stack and item.indent == stack[-1][0]:  # kind changed: a sibling list
            _, _, home = stack.pop()
        elif stack:  # deeper: nest inside the last item of the open list
            home = stack[-1][1].items[-1].children
        else:
            home = top
        block = ListBlock(item.ordered, [node])
        home.append(block)
        stack.append((item.indent, block, home))
    return top


def _assign_levels(blocks: list[Block], title: str) -> None:
    """Set each heading's level (2-4) and season by the rules in the module docstring."""
    season: str | None = None
    open_topic = ""
    previous: Block | None = None
    for block in blocks:
        if isinstance(block, Heading):
            text = block.text
            if SEASON_RE.match(text):
                block.level, season, open_topic = 2, text, ""
            elif text in PAGE_H2:
                block.level, season, open_topic = 2, None, ""
            elif season is None:
                block.level = 3  # a heading in a page-level block: no topic/sub-topic split there
            elif text in TOPIC_HEADINGS and not (
                isinstance(previous, Heading)
                and previous.level == 4
                and text.casefold() in open_topic.casefold()
            ):
                block.level, open_topic = 3, text
            else:
                block.level = 4
            block.season = season
        previous = block
    if any(isinstance(b, Heading) and b.text == title for b in blocks):
        sys.exit("build_snapshot: the page title appears again as a content heading")


def slugify(text: str) -> str:
    """Lowercase, runs of non-alphanumerics to "-", trimmed (as the ingest's own fallback)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# Ids the page chrome uses; content ids must not collide with them.
CHROME_IDS = (
    "page", "masthead", "site-navigation", "primary-menu", "search-field", "breadcrumbs",
    "content", "primary", "main", "post-2743", "secondary", "latest-news", "related-pages",
    "return-links", "colophon", "footer-menu", "cookie-notice", "cn-accept-cookie",
    "cn-refuse-cookie",
)  # fmt: skip


def _assign_ids(blocks: list[Block]) -> None:
    """Give every heading a page-unique slug id (season-prefixed inside a season)."""
    used: set[str] = set(CHROME_IDS)
    for block in blocks:
        if not isinstance(block, Heading):
            continue
        base = slugify(block.text) or "section"
        if block.season and block.level > 2:
            base = f"{slugify(block.season.removesuffix(' updates'))}-{base}"
        candidate, n = base, 1
        while candidate in used:
            n += 1
            candidate = f"{base}-{n}"
        used.add(candidate)
        block.id = candidate


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def linked(text: str, phrases: dict[str, str], autolink: bool = True) -> str:
    """Escape text, turning named phrases (and bare URLs if autolink) into links.

    The visible text is left exactly as in the capture; only <a> tags are added around it.
    """
    alternatives = [re.escape(p) for p in sorted(phrases, key=len, reverse=True)]
    if autolink:
        alternatives.append(URL_RE)
    if not alternatives:
        return esc(text)
    out: list[str] = []
    last = 0
    for match in re.finditer("|".join(f"(?:{a})" for a in alternatives), text):
        found = match.group(0)
        href = phrases.get(found, found)
        out.append(esc(text[last : match.start()]))
        out.append(f'<a href="{esc(href)}">{esc(found)}</a>')
        last = match.end()
    out.append(esc(text[last:]))
    return "".join(out)


def _render_list(block: ListBlock, indent: str) -> list[str]:
    tag = "ol" if block.ordered else "ul"
    first = block.items[0].number
    start = f' start="{first}"' if block.ordered and first not in (None, 1) else ""
    out = [f"{indent}<{tag}{start}>"]
    expected = first
    for item in block.items:
        # Keep the capture's numbers even if they skip (value=), though none do today.
        value = f' value="{item.number}"' if block.ordered and item.number != expected else ""
        expected = (item.number or 0) + 1
        body = linked(item.text, CONTENT_LINK_PHRASES)
        if item.children:
            out.append(f"{indent}\t<li{value}>{body}")
            for child in item.children:
                out.extend(_render_list(child, indent + "\t\t"))
            out.append(f"{indent}\t</li>")
        else:
            out.append(f"{indent}\t<li{value}>{body}</li>")
    out.append(f"{indent}</{tag}>")
    return out


def render_content(blocks: list[Block]) -> list[str]:
    """Render the entry content, wrapping the accordion sub-topic in its collapsed panel."""
    indent = "\t\t\t\t\t\t"
    out: list[str] = []
    in_accordion = False
    wrapped = 0
    for block in blocks:
        if isinstance(block, Heading):
            if in_accordion:  # the panel holds everything up to the next heading
                out.append(f"{indent}\t</div>")
                out.append(f"{indent}</div>")
                in_accordion = False
            if (block.season, block.text, block.level) == (*ACCORDION, 4):
                out.append(f'{indent}<div class="accordion">')
                out.append(
                    f'{indent}\t<h4 id="{block.id}"><button class="accordion-toggle" type="button" '
                    f'aria-expanded="false" aria-controls="{block.id}-panel">{esc(block.text)}'
                    "</button></h4>"
                )
                out.append(f'{indent}\t<div class="accordion-panel" id="{block.id}-panel" hidden>')
                in_accordion = True
                wrapped += 1
                continue
            tag = f"h{block.level}"
            out.append(f'{indent}<{tag} id="{block.id}">{esc(block.text)}</{tag}>')
            continue
        pad = indent + ("\t\t" if in_accordion else "")
        if isinstance(block, Paragraph):
            out.append(f"{pad}<p>{linked(block.text, CONTENT_LINK_PHRASES)}</p>")
        else:
            out.extend(_render_list(block, pad))
    if in_accordion:
        out.append(f"{indent}\t</div>")
        out.append(f"{indent}</div>")
    if wrapped != 1:
        sys.exit(
            f"build_snapshot: accordion sub-topic {ACCORDION!r} found {wrapped} times, expected 1"
        )
    return out


# Main menu of the live theme (top level with the Contract & IT sub-menu), as (label, path).
MENU: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("Home", "/", ()),
    (
        "Contract &amp; IT",
        "/contract-it/",
        (
            ("The pharmacy contract", "/contract-it/the-pharmacy-contract/"),
            ("Pharmacy IT", "/contract-it/pharmacy-it/"),
            ("Electronic Prescription Service (EPS)", EPS_PATH),
            ("Market entry regulations", "/contract-it/market-entry-regulations/"),
        ),
    ),
    ("Services", "/services-commissioning/", ()),
    ("Funding &amp; Statistics", "/funding-and-statistics/", ()),
    ("Dispensing &amp; Supply", "/dispensing-supply/", ()),
    ("Medicine Safety", "/medicine-safety/", ()),
    ("LPCs", "/lpcs/", ()),
    ("News", "/news/", ()),
    ("Events", "/events/", ()),
    ("About us", "/about-psnc/", ()),
    ("Contact", "/contact-us/", ()),
)

# Illustrative sidebar news (date, title, path): chrome for the boilerplate remover to drop.
NEWS_ITEMS = (
    ("2022-03-29", "Pharmacy IT bulletin: Spring 2022 edition published", "/pharmacy-it-bulletin/"),
    ("2022-03-24", "Reminder: keep your NHS website profile up to date", "/nhs-website-profile/"),
    ("2022-03-17", "Smartcards: how to check whether yours needs replacing", "/smartcard-checks/"),
    ("2022-03-10", "CP ITG meeting summary now available", "/cp-itg-meeting-summary/"),
    ("2022-03-03", "Contractor briefing: EPS endorsement guidance", "/eps-endorsement-briefing/"),
)

RELATED_PAGES = (
    ("Pharmacy IT hub", f"{SITE}/contract-it/pharmacy-it/"),
    ("Community Pharmacy IT Group (CP ITG)", CPITG_URL),
    ("CP ITG workstream recent update", ITUPDATE_URL),
    ("Electronic Prescription Service (EPS)", f"{SITE}{EPS_PATH}"),
    ("NHSmail", f"{SITE}/contract-it/pharmacy-it/nhsmail/"),
)

STYLE = """\
body{margin:0;font-family:"Open Sans",Arial,sans-serif;color:#222;line-height:1.6}
.screen-reader-text{position:absolute;clip:rect(1px,1px,1px,1px);width:1px;height:1px;overflow:hidden}
.skip-link:focus{clip:auto;width:auto;height:auto;z-index:100000;background:#fff;padding:1em}
.site-header{background:#00549f;color:#fff}.main-navigation ul{list-style:none;margin:0;padding:0}
.main-navigation li{display:inline-block;position:relative}.main-navigation .sub-menu{display:none}
.breadcrumbs{font-size:.85em;padding:.5em 1em}.site-content{display:flex;gap:2em;padding:0 1em}
.content-area{flex:3}.widget-area{flex:1}
.accordion-toggle{background:none;border:0;font:inherit;cursor:pointer}
.accordion-toggle::after{content:" +"}
.accordion-toggle[aria-expanded=true]::after{content:" \\2212"}
.cookie-notice{position:fixed;bottom:0;left:0;right:0;background:#32323a;color:#fff;padding:1em}"""

HEAD_SCRIPT = """\
document.documentElement.className = document.documentElement.className.replace('no-js', 'js');
window.psncTheme = {ajaxUrl: '/wp-admin/admin-ajax.php', accordion: true};"""

FOOT_SCRIPT = """\
document.querySelectorAll('.accordion-toggle').forEach(function (button) {
  button.addEventListener('click', function () {
    var panel = document.getElementById(button.getAttribute('aria-controls'));
    var open = button.getAttribute('aria-expanded') === 'true';
    button.setAttribute('aria-expanded', String(!open));
    panel.hidden = open;
  });
});"""

ANALYTICS_SCRIPT = """\
window.dataLayer = window.dataLayer || [];
function gtag(){dataLayer.push(arguments);}
gtag('js', new Date());
gtag('config', 'UA-00000000-1', {anonymize_ip: true});"""


def _menu_html() -> list[str]:
    out = ['\t\t\t<ul id="primary-menu" class="menu">']
    for n, (label, path, children) in enumerate(MENU, start=1):
        classes = "menu-item" + (" menu-item-has-children" if children else "")
        link = f'<a href="{SITE}{path}">{label}</a>'
        if not children:
            out.append(f'\t\t\t\t<li class="{classes} menu-item-{n}">{link}</li>')
            continue
        out.append(f'\t\t\t\t<li class="{classes} menu-item-{n}">{link}')
        out.append('\t\t\t\t\t<ul class="sub-menu">')
        for sub_label, sub_path in children:
            sub_link = f'<a href="{SITE}{sub_path}">{esc(sub_label)}</a>'
            out.append(f'\t\t\t\t\t\t<li class="menu-item">{sub_link}</li>')
        out.append("\t\t\t\t\t</ul>")
        out.append("\t\t\t\t</li>")
    out.append("\t\t\t</ul>")
    return out


def _breadcrumbs_html(title: str) -> list[str]:
    # The page's ancestors are the prefixes of its own URL path.
    crumbs = (
        ("Home", f"{SITE}/"),
        ("Contract &amp; IT", f"{SITE}/contract-it/"),
        ("Pharmacy IT", f"{SITE}/contract-it/pharmacy-it/"),
        ("Policy, the NHS and IT", f"{SITE}/contract-it/pharmacy-it/policy-the-nhs-and-it/"),
        (
            "CP ITG",
            f"{SITE}/contract-it/pharmacy-it/policy-the-nhs-and-it/community-pharmacy-it-group-cpitg/",
        ),
    )
    parts = [f'<a href="{href}">{label}</a>' for label, href in crumbs]
    parts.append(f'<span class="breadcrumb_last" aria-current="page">{esc(title)}</span>')
    return [
        '\t<nav id="breadcrumbs" class="breadcrumbs" aria-label="Breadcrumb">',
        "\t\t<p>" + ' <span class="sep">›</span> '.join(parts) + "</p>",
        "\t</nav>",
    ]


def render_page(capture: Capture) -> str:
    """Return the whole snapshot page: WordPress chrome around the rendered entry content."""
    title = capture.title
    share_url = quote(LIVE_URL, safe="")  # share links carry the page URL percent-encoded
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en-GB" class="no-js">',
        "<head>",
        '\t<meta charset="utf-8">',
        '\t<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"\t<title>{esc(title)} - {SITE_NAME}</title>",
        f'\t<meta name="description" content="{esc(capture.description)}">',
        '\t<meta name="robots" content="index, follow">',
        f'\t<link rel="canonical" href="{esc(LIVE_URL)}">',
        f'\t<meta property="og:title" content="{esc(title)}">',
        f'\t<meta property="og:url" content="{esc(LIVE_URL)}">',
        '\t<link rel="stylesheet" id="psnc-style-css" '
        f'href="{SITE}/wp-content/themes/psnc/style.css?ver=2.4.1" media="all">',
        '\t<style id="psnc-inline-css">',
        STYLE,
        "\t</style>",
        "\t<script>",
        HEAD_SCRIPT,
        "\t</script>",
        "</head>",
        '<body class="page-template-default page page-id-2743 page-child">',
        '<div id="page" class="site">',
        '\t<a class="skip-link screen-reader-text" href="#content">Skip to content</a>',
        '\t<header id="masthead" class="site-header">',
        '\t\t<div class="site-branding">',
        f'\t\t\t<a href="{SITE}/" class="custom-logo-link" rel="home">'
        f'<img src="{SITE}/wp-content/uploads/2019/06/psnc-logo.png" class="custom-logo" '
        'alt="PSNC - Pharmaceutical Services Negotiating Committee" width="240" height="80"></a>',
        f'\t\t\t<p class="site-title"><a href="{SITE}/" rel="home">{SITE_NAME}</a></p>',
        "\t\t</div>",
        '\t\t<nav id="site-navigation" class="main-navigation" aria-label="Main menu">',
        '\t\t\t<button class="menu-toggle" type="button" aria-controls="primary-menu" '
        'aria-expanded="false">Menu</button>',
        *_menu_html(),
        f'\t\t\t<form role="search" method="get" class="search-form" action="{SITE}/">',
        '\t\t\t\t<label for="search-field">'
        '<span class="screen-reader-text">Search for:</span></label>',
        '\t\t\t\t<input type="search" id="search-field" class="search-field" '
        'placeholder="Search …" value="" name="s">',
        '\t\t\t\t<button type="submit" class="search-submit">Search</button>',
        "\t\t\t</form>",
        "\t\t</nav>",
        "\t</header>",
        *_breadcrumbs_html(title),
        '\t<div id="content" class="site-content">',
        '\t\t<div id="primary" class="content-area">',
        '\t\t\t<main id="main" class="site-main">',
        '\t\t\t\t<article id="post-2743" class="page type-page status-publish hentry">',
        '\t\t\t\t\t<header class="entry-header">',
        f'\t\t\t\t\t\t<h1 class="entry-title" id="{slugify(title)}">{esc(title)}</h1>',
        "\t\t\t\t\t</header>",
        '\t\t\t\t\t<div class="entry-content">',
        *render_content(capture.blocks),
        "\t\t\t\t\t</div>",
        '\t\t\t\t\t<footer class="entry-footer">',
        # The capture date stands in for the page's edit date, which the capture does not record.
        '\t\t\t\t\t\t<p class="last-updated">Last updated: '
        f'<time datetime="{CAPTURED}">{CAPTURED_HUMAN}</time></p>',
        '\t\t\t\t\t\t<div class="share-buttons">',
        "\t\t\t\t\t\t\t<span>Share this page:</span>",
        '\t\t\t\t\t\t\t<a class="share-twitter" '
        f'href="https://twitter.com/intent/tweet?url={share_url}">Twitter</a>',
        '\t\t\t\t\t\t\t<a class="share-linkedin" '
        f'href="https://www.linkedin.com/sharing/share-offsite/?url={share_url}">LinkedIn</a>',
        '\t\t\t\t\t\t\t<a class="share-email" '
        f'href="mailto:?subject={quote(title)}&amp;body={share_url}">Email</a>',
        "\t\t\t\t\t\t</div>",
        "\t\t\t\t\t</footer>",
        "\t\t\t\t</article>",
        "\t\t\t</main>",
        "\t\t</div>",
        '\t\t<aside id="secondary" class="widget-area" aria-label="Sidebar">',
        '\t\t\t<section id="latest-news" class="widget widget_recent_entries">',
        f'\t\t\t\t<h2 class="widget-title">{esc(capture.news_title)}</h2>',
        "\t\t\t\t<ul>",
    ]
    for date, news_title, path in NEWS_ITEMS:
        out.append(
            f'\t\t\t\t\t<li><a href="{SITE}/our-news{path}">{esc(news_title)}</a> '
            f'<span class="post-date"><time datetime="{date}">{_human_date(date)}</time>'
            "</span></li>"
        )
    out += [
        "\t\t\t\t</ul>",
        f'\t\t\t\t<p class="more-link"><a href="{SITE}/category/contract-it/">'
        f"{esc(capture.news_more)}</a></p>",
        "\t\t\t</section>",
        '\t\t\t<section id="related-pages" class="widget widget_related_pages">',
        '\t\t\t\t<h2 class="widget-title">Related pages</h2>',
        "\t\t\t\t<ul>",
        *(
            f'\t\t\t\t\t<li><a href="{esc(href)}">{esc(label)}</a></li>'
            for label, href in RELATED_PAGES
        ),
        "\t\t\t\t</ul>",
        "\t\t\t</section>",
        "\t\t</aside>",
        "\t</div>",
        '\t<div id="return-links" class="return-links">',
        f"\t\t<p>{linked(capture.return_line, RETURN_LINK_PHRASES, autolink=False)}</p>",
        "\t</div>",
        '\t<footer id="colophon" class="site-footer">',
        '\t\t<nav class="footer-navigation" aria-label="Footer menu">',
        '\t\t\t<ul id="footer-menu" class="menu">',
        f'\t\t\t\t<li class="menu-item"><a href="{SITE}/privacy-policy/">Privacy policy</a></li>',
        f'\t\t\t\t<li class="menu-item"><a href="{SITE}/cookies/">Cookies</a></li>',
        f'\t\t\t\t<li class="menu-item"><a href="{SITE}/accessibility/">Accessibility</a></li>',
        f'\t\t\t\t<li class="menu-item"><a href="{SITE}/contact-us/">Contact</a></li>',
        "\t\t\t</ul>",
        "\t\t</nav>",
        '\t\t<div class="site-info">',
        "\t\t\t<address>PSNC, 14 Hosier Lane, London EC1A 9LQ</address>",
        "\t\t\t<p>© Pharmaceutical Services Negotiating Committee. All rights reserved.</p>",
        "\t\t</div>",
        "\t</footer>",
        "</div>",
        '<div id="cookie-notice" class="cookie-notice" role="dialog" aria-label="Cookie notice">',
        '\t<div class="cookie-notice-container">',
        '\t\t<span class="cn-text">We use cookies on this website to give you the best experience. '
        f'Read our <a href="{SITE}/cookies/">cookie policy</a> to find out more.</span>',
        '\t\t<button type="button" id="cn-accept-cookie" class="cn-button">Accept</button>',
        '\t\t<button type="button" id="cn-refuse-cookie" class="cn-button">Reject</button>',
        "\t</div>",
        "</div>",
        "<script>",
        FOOT_SCRIPT,
        "</script>",
        '<script async src="https://www.googletagmanager.com/gtag/js?id=UA-00000000-1"></script>',
        "<script>",
        ANALYTICS_SCRIPT,
        "</script>",
        "</body>",
        "</html>",
    ]
    page = "\n".join(out) + "\n"
    _check_unique_ids(page)
    return page


def _human_date(iso: str) -> str:
    months = (
        "January", "February", "March", "April", "May", "June", "July", "August",
        "September", "October", "November", "December",
    )  # fmt: skip
    year, month, day = (int(p) for p in iso.split("-"))
    return f"{day} {months[month - 1]} {year}"


def _check_unique_ids(page: str) -> None:
    ids = re.findall(r'\sid="([^"]*)"', page)
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        sys.exit(f"build_snapshot: duplicate ids in the page: {duplicates}")


def render_manifest(capture: Capture, page: str) -> str:
    manifest = {
        "pages": [
            {
                "file": HTML_NAME,
                "url": LIVE_URL,
                "title": capture.title,
                "captured": CAPTURED,
                "source_capture": SOURCE_CAPTURE,
                "sha256": hashlib.sha256(page.encode("utf-8")).hexdigest(),
            }
        ]
    }
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def heading_tree(capture: Capture) -> str:
    """The heading tree, one heading a line, indented by level, for review."""
    lines = [f"h1 {capture.title}"]
    for block in capture.blocks:
        if isinstance(block, Heading):
            pad = "  " * (block.level - 1)
            lines.append(f"{pad}h{block.level} {block.text}  #{block.id}")
    return "\n".join(lines)


def build() -> tuple[Capture, dict[Path, bytes]]:
    """Return the parsed capture and the bytes each output file should hold."""
    capture = read_capture(CAPTURE_PATH)
    page = render_page(capture)
    return capture, {
        SNAPSHOT_DIR / HTML_NAME: page.encode("utf-8"),
        SNAPSHOT_DIR / MANIFEST_NAME: render_manifest(capture, page).encode("utf-8"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the snapshot on disk is stale"
    )
    parser.add_argument("--verbose", action="store_true", help="print the heading tree to stderr")
    args = parser.parse_args(argv)

    capture, outputs = build()
    if args.verbose:
        print(heading_tree(capture), file=sys.stderr)

    if args.check:
        stale = [p for p, data in outputs.items() if not p.is_file() or p.read_bytes() != data]
        for path in stale:
            print(f"stale: {path} (run python data/build_snapshot.py)", file=sys.stderr)
        return 1 if stale else 0

    for path, data in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)  # bytes, so no platform newline translation
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
