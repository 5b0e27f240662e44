"""Parse a PDF bulletin into Section records, citing each section by URL#page=N.

pdfplumber (on pdfminer.six) gives every line of text with its position, font and size.
From those the parser:
- drops the running headers, footers and page numbers: lines in the top or bottom
  margin band that recur on most pages (digits aside) or look like page furniture
  (Chromium's date-and-title header, its URL-and-"2/3" footer, "Page 2 of 3");
- reads the headings back from font size, boldness and numbering ("1.2 HSCN"), largest
  first, into the same tree the HTML parser builds (ingest/sections.py);
- keeps each bullet (a small drawn disc or a "•" left of the text) and numbered item as
  one block, joins the lines of a paragraph, and reads tables row by row;
- takes the season from the title or a date on the first page, else from the file name.
A PDF with no text outside its margins (a scan) is refused with "no text layer".
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from ingest.errors import SourceError
from ingest.sections import SectionBuilder
from records import MONTHS, OVERVIEW, SEASON_MONTHS, Block, Page, Section
from settings import Settings

# Margin lines that are page furniture even on a one-page PDF, matched after digits become
# "#" and the text is lower-cased. Rule table: add a row for a new printer's furniture.
FURNITURE_PATTERNS = tuple(
    re.compile(p)
    for p in (
        r"^#+$",  # "3"
        r"^#+ ?/ ?#+$",  # "2/3"
        r"^page #+( of #+)?$",  # "page 2 of 3"
        r"^[-–—] ?#+ ?[-–—]$",  # "- 2 -"
        r"^(https?|file)://\S+( #+ ?/ ?#+)?$",  # Chromium's footer: the URL and "2/3"
        r"^#+/#+/#+, #+:#+ ?(am|pm)?\b",  # Chromium's header: date, time, page title
    )
)
# Seasons by the month a bulletin is dated (SEASON_MONTHS): a month belongs to the latest
# season dated at or before it, so January and February belong to the Winter before.
MONTH_SEASONS = {
    month: max(
        (s for s, dated in SEASON_MONTHS.items() if dated <= month),
        key=SEASON_MONTHS.__getitem__,
        default="Winter",
    )
    for month in range(1, 13)
}
_SEASON_IN_TEXT = re.compile(r"\b(spring|summer|autumn|winter)[\s_-]+(20\d\d)\b", re.I)
_MONTH_IN_TEXT = re.compile(r"\b([a-z]{3,9})\.?[\s_-]+(20\d\d)\b", re.I)
_ISO_MONTH = re.compile(r"\b(20\d\d)[-_](0[1-9]|1[0-2])\b")
# Text bullets a PDF may carry instead of drawn discs.
TEXT_BULLETS = ("•", "◦", "▪", "■", "●", "○", "‣", "–", "-", "*")
_NUMBERED_ITEM = re.compile(r"^(\d{1,2})[.)]\s+(?=\S)")
_HEADING_NUMBER = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*)\.?\s+(?=[^\W\d_])")
_SENTENCE_END = (".", ":", "?", "!", ";", ",")
MAX_BULLET_SIZE = 8.0  # points: a drawn bullet is a disc or square smaller than this
MAX_TITLE_WORDS = 14  # a bold body-size line with more words is emphasis, not a heading


@dataclass
class _Line:
    """One line of text on a page, with what the parser reads its role from."""

    page: int
    top: float
    bottom: float
    x0: float
    x1: float
    text: str
    size: float
    bold: bool
    bullet: bool = False
    table_rows: list[str] = field(default_factory=list)  # set for a table's stand-in line

    @property
    def is_table(self) -> bool:
        return bool(self.table_rows)


def parse_pdf(page: Page, settings: Settings | None = None) -> list[Section]:
    """Return the PDF's sections in reading order; raise SourceError if it has no text."""
    settings = settings or Settings()
    lines, pictures, title_meta = _read_lines(page, settings)
    if not lines:
        if pictures:
            raise SourceError(
                page.source, "no text layer (a scanned PDF?): run it through OCR first"
            )
        raise SourceError(page.source, "no recognisable content (the PDF has no text)")
    body_size = _body_size(lines)
    levels = _heading_levels(lines, body_size, settings)
    title = _title(lines, levels, title_meta, page.url)
    season = _season(lines, levels, title_meta, page.url)
    builder = SectionBuilder(page_url=page.url, page_title=title, default_season=season)
    _build(lines, levels, builder, body_size)
    sections = builder.finish()
    if not sections:
        raise SourceError(page.source, "no recognisable content (no text under any heading)")
    return sections


# ---------------------------------------------------------------- reading the lines


def _read_lines(page: Page, settings: Settings) -> tuple[list[_Line], bool, str]:
    """Every content line of every page (furniture removed), whether there were pictures,
    and the document's Title metadata."""
    import pdfplumber
    from pdfminer.pdfdocument import PDFPasswordIncorrect

    try:
        pdf = pdfplumber.open(io.BytesIO(page.data))
    except PDFPasswordIncorrect:
        raise SourceError(page.source, "encrypted PDF (it needs a password)") from None
    except Exception as error:  # noqa: BLE001 - pdfminer raises many types for a bad file
        raise SourceError(page.source, f"not a readable PDF ({_first_line(error)})") from None
    with pdf:
        try:
            count = len(pdf.pages)
            if count > settings.pdf_max_pages:
                raise SourceError(
                    page.source,
                    f"PDF has {count} pages, more than the {settings.pdf_max_pages}-page cap",
                )
            title_meta = str((pdf.metadata or {}).get("Title") or "").strip()
            pages = [_page_lines(number, p) for number, p in enumerate(pdf.pages, start=1)]
            pictures = any(p.images for p in pdf.pages)
            heights = [float(p.height) for p in pdf.pages]
        except SourceError:
            raise
        except Exception as error:  # noqa: BLE001 - a damaged page stream, an odd font
            raise SourceError(page.source, f"not a readable PDF ({_first_line(error)})") from None
    _drop_furniture(pages, heights, settings)
    return [line for lines in pages for line in lines], pictures, title_meta


def _page_lines(number: int, pdf_page) -> list[_Line]:
    """The lines of one page in reading order, tables replaced by one stand-in line each."""
    tables = (
        [t for t in pdf_page.find_tables() if _real_table(t)]
        if pdf_page.rects or pdf_page.lines
        else []
    )
    bullets = [
        shape
        for shape in (*pdf_page.curves, *pdf_page.rects)
        if shape["width"] < MAX_BULLET_SIZE and shape["height"] < MAX_BULLET_SIZE
    ]
    lines: list[_Line] = []
    for raw in pdf_page.extract_text_lines(return_chars=True, strip=True):
        if any(_inside(raw, table.bbox) for table in tables):
            continue
        text = _clean(raw["text"])
        if not text:
            continue
        chars = [c for c in raw["chars"] if c["text"].strip()]
        sizes = Counter(round(float(c["size"]), 1) for c in chars)
        bold = sum(1 for c in chars if _is_bold(c["fontname"])) >= 0.9 * len(chars)
        line = _Line(
            page=number,
            top=float(raw["top"]),
            bottom=float(raw["bottom"]),
            x0=float(raw["x0"]),
            x1=float(raw["x1"]),
            text=text,
            size=sizes.most_common(1)[0][0] if sizes else 0.0,
            bold=bold,
        )
        marker = text.split(" ", 1)
        if len(marker) == 2 and marker[0] in TEXT_BULLETS:
            line.text, line.bullet = marker[1].strip(), True
        elif any(_bullet_of(shape, line) for shape in bullets):
            line.bullet = True
        lines.append(line)
    for table in tables:
        rows = _table_rows(table)
        if rows:
            x0, top, x1, bottom = table.bbox
            lines.append(_Line(number, top, bottom, x0, x1, rows[0], 0.0, False, table_rows=rows))
    lines.sort(key=lambda line: (round(line.top), line.x0))
    return lines


def _real_table(table) -> bool:
    """A found table with at least two rows and two columns (not a boxed paragraph)."""
    rows = table.extract()
    return len(rows) >= 2 and max(len(r) for r in rows) >= 2


def _table_rows(table) -> list[str]:
    """A table's rows as lines, "Header: value; Header: value" as the HTML parser writes them."""
    rows = [[_clean(cell or "") for cell in row] for row in table.extract()]
    rows = [row for row in rows if any(row)]
    if not rows:
        return []
    headers, body = rows[0], rows[1:]
    lines = []
    for row in body:
        if len(row) == len(headers) and all(headers):
            lines.append("; ".join(f"{h}: {t}" for h, t in zip(headers, row, strict=True) if t))
        else:
            lines.append(" | ".join(t for t in row if t))
    return lines


def _inside(raw: dict, bbox: tuple[float, float, float, float]) -> bool:
    x0, top, x1, bottom = bbox
    middle_x = (float(raw["x0"]) + float(raw["x1"])) / 2
    middle_y = (float(raw["top"]) + float(raw["bottom"])) / 2
    return x0 <= middle_x <= x1 and top <= middle_y <= bottom


def _bullet_of(shape: dict, line: _Line) -> bool:
    """A small shape just left of the line's first word, level with it, is its bullet."""
    middle = (float(shape["top"]) + float(shape["bottom"])) / 2
    return line.top <= middle <= line.bottom and 0 <= line.x0 - float(shape["x1"]) <= 20


def _is_bold(fontname: str) -> bool:
    """True for a bold face ("ABCDEF+LiberationSans-Bold", "Arial,Bold", "...-Black")."""
    name = fontname.split("+")[-1].lower()
    return any(word in name for word in ("bold", "black", "heavy", "semibold", "demi"))


def _clean(text: str) -> str:
    """NFKC (ligatures "ﬁ" -> "fi"), no soft hyphens, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).replace("\u00ad", "")
    return re.sub(r"\s+", " ", text).strip()


def _drop_furniture(pages: list[list[_Line]], heights: list[float], settings: Settings) -> None:
    """Remove running headers, footers and page numbers from every page, in place."""

    def in_band(line: _Line) -> bool:
        height = heights[line.page - 1]
        band = settings.pdf_margin_band * height
        return line.top < band or line.bottom > height - band

    def shape(line: _Line) -> str:
        return re.sub(r"\d+", "#", line.text.lower())

    recurring: Counter[str] = Counter()
    for lines in pages:
        recurring.update({shape(line) for line in lines if in_band(line) and not line.is_table})
    needed = max(2, settings.pdf_repeat_share * len(pages))
    for lines in pages:
        lines[:] = [
            line
            for line in lines
            if line.is_table
            or not in_band(line)
            or not (
                recurring[shape(line)] >= needed
                or any(p.search(shape(line)) for p in FURNITURE_PATTERNS)
            )
        ]


# ---------------------------------------------------------------- headings


def _body_size(lines: list[_Line]) -> float:
    """The size most of the text is set in (weighted by characters)."""
    weights: Counter[float] = Counter()
    for line in lines:
        if not line.is_table:
            weights[line.size] += len(line.text)
    return weights.most_common(1)[0][0] if weights else 0.0


def _is_heading(line: _Line, body_size: float, settings: Settings) -> bool:
    """A line set larger than the body text, or a short bold line that ends no sentence."""
    if line.is_table or line.bullet:
        return False
    if line.size >= body_size * settings.pdf_heading_ratio:
        return True
    return (
        line.bold
        and abs(line.size - body_size) < 0.5
        and len(line.text.split()) <= MAX_TITLE_WORDS
        and not line.text.endswith(_SENTENCE_END)
    )


def _numbering_depth(text: str) -> int:
    """1 for "3. Connectivity" or an unnumbered heading, 2 for "3.1 HSCN", and so on."""
    match = _HEADING_NUMBER.match(text)
    return match.group(1).count(".") + 1 if match else 1


def _heading_levels(lines: list[_Line], body_size: float, settings: Settings) -> dict[int, int]:
    """Each heading line's level (1 = the document title), by its id().

    Bigger type is a higher level; at one size, "1.1" sits under "1.". The largest size
    is the title's only when it is used at most twice, on the first page.
    """
    headings = [line for line in lines if _is_heading(line, body_size, settings)]
    if not headings:
        return {}
    keys = {id(h): (-h.size, _numbering_depth(h.text)) for h in headings}
    largest = max(h.size for h in headings)
    at_largest = [h for h in headings if h.size == largest]
    has_title = (
        largest >= body_size * settings.pdf_heading_ratio
        and len(at_largest) <= 2
        and all(h.page == 1 for h in at_largest)
    )
    ranked = sorted(set(keys.values()))
    first = 1 if has_title else 2
    return {key: min(6, first + ranked.index(value)) for key, value in keys.items()}


def _heading_text(text: str) -> str:
    """A heading without its number: "3.1 HSCN migration" -> "HSCN migration"."""
    return _HEADING_NUMBER.sub("", text, count=1).strip() or text


def _title(lines: list[_Line], levels: dict[int, int], metadata_title: str, url: str) -> str:
    """The document's title: its level-1 heading, else its Title metadata, else its name."""
    for line in lines:
        if levels.get(id(line)) == 1:
            return _heading_text(line.text)
    if metadata_title and not metadata_title.lower().startswith(("untitled", "microsoft")):
        return metadata_title
    return _file_name(url).rsplit(".", 1)[0] or "Untitled PDF"


def _file_name(url: str) -> str:
    return unquote(PurePosixPath(urlsplit(url).path).name)


def _season(lines: list[_Line], levels: dict[int, int], metadata_title: str, url: str) -> str:
    """The bulletin's season: named in its title or masthead, from a date there, or from
    the file name ("cp-itg-bulletin-winter-2021.pdf", "bulletin-2022-03.pdf").

    The masthead is the first page down to its first heading below the title, so a date
    in the bulletin's news ("During November 2021, ...") is not taken for its own.
    """
    masthead = []
    for line in lines:
        if line.page != 1 or levels.get(id(line), 1) > 1:
            break
        masthead.append(line.text)
    for text in (metadata_title, *masthead):
        match = _SEASON_IN_TEXT.search(text)
        if match:
            return f"{match.group(1).capitalize()} {match.group(2)}"
    for text in (metadata_title, *masthead):
        dated = _dated_season(text)
        if dated:
            return dated
    name = _file_name(url)
    match = _SEASON_IN_TEXT.search(name)
    if match:
        return f"{match.group(1).capitalize()} {match.group(2)}"
    return _dated_season(name) or OVERVIEW


def _dated_season(text: str) -> str | None:
    """The season of a date in text: "20 March 2023" -> Spring 2023, "2022-01" -> Winter 2021."""
    for match in _MONTH_IN_TEXT.finditer(text):
        month = MONTHS.get(match.group(1).lower())
        if month:
            return _season_for(month, int(match.group(2)))
    match = _ISO_MONTH.search(text)
    if match:
        return _season_for(int(match.group(2)), int(match.group(1)))
    return None


def _season_for(month: int, year: int) -> str:
    season = MONTH_SEASONS[month]
    return f"{season} {year - 1 if month < 3 else year}"


# ---------------------------------------------------------------- blocks


def _build(
    lines: list[_Line], levels: dict[int, int], builder: SectionBuilder, body: float
) -> None:
    """Send headings and blocks to the builder in reading order, each page its own anchor."""
    leading = _leading(lines)
    right_edge = max((line.x1 for line in lines if not line.is_table), default=0.0)
    page = 0
    current: list[_Line] = []  # the lines of the block being read
    heading: list[_Line] = []  # the lines of a heading that may wrap

    def flush_block() -> None:
        if current:
            builder.add(_block(current))
            current.clear()

    def flush_heading() -> None:
        if heading:
            text = _heading_text(" ".join(line.text for line in heading))
            builder.heading(levels[id(heading[0])], text, f"page={heading[0].page}")
            heading.clear()

    for line in lines:
        if line.page != page:
            flush_block()
            flush_heading()
            page = line.page
            builder.move_anchor(f"page={page}")
        level = levels.get(id(line))
        if level is not None:
            flush_block()
            if heading and not _continues_heading(heading[-1], line, leading):
                flush_heading()
            heading.append(line)
            continue
        flush_heading()
        if line.is_table:
            flush_block()
            for row in line.table_rows:
                builder.add(Block("row", row))
            continue
        if current and not _continues_block(current[-1], line, leading, right_edge):
            flush_block()
        current.append(line)
    flush_block()
    flush_heading()


def _leading(lines: list[_Line]) -> float:
    """The distance from one line of a paragraph to the next (top to top).

    The tightest step that recurs between lines of one size: wrapped lines sit closer
    than paragraphs or items, which have space between them (15 pt vs 21 pt in the
    fixtures' 11 pt text).
    """
    steps: Counter[float] = Counter()
    for before, after in zip(lines, lines[1:], strict=False):
        step = after.top - before.top
        same = before.page == after.page and abs(before.size - after.size) < 0.5
        if same and before.size and before.size <= step <= 2 * before.size:
            steps[round(step * 2) / 2] += 1
    recurring = [step for step, count in steps.items() if count >= 2]
    if recurring:
        return min(recurring)
    return 1.25 * max((line.size for line in lines), default=11.0)


def _continues_heading(before: _Line, line: _Line, leading: float) -> bool:
    """A heading line right under another of the same style is its wrapped second line."""
    return (
        before.page == line.page
        and abs(before.size - line.size) < 0.5
        and before.bold == line.bold
        and line.top - before.top <= 1.3 * max(leading, before.size * 1.2)
        and not _HEADING_NUMBER.match(line.text)
    )


def _continues_block(before: _Line, line: _Line, leading: float, right_edge: float) -> bool:
    """True when line carries on the paragraph or item before it rather than starting one."""
    if line.bullet or _NUMBERED_ITEM.match(line.text):
        return False
    if abs(before.size - line.size) >= 0.5 or line.top - before.top > 1.3 * leading:
        return False
    # Lines of one paragraph share a left edge (an item's lines align after its bullet).
    if abs(line.x0 - before.x0) > 2:
        return False
    # A short line that ends a sentence ends its paragraph, even without a gap after it.
    short = before.x1 < right_edge - 0.15 * (right_edge - before.x0)
    return not (short and before.text.endswith((".", "!", "?", ":")))


def _block(lines: list[_Line]) -> Block:
    """One paragraph, bullet or numbered item from its lines, joined back into one text."""
    text = lines[0].text
    for line in lines[1:]:
        # A line broken after a hyphen ("multi-" / "factor") joins without a space.
        text = text + line.text if text.endswith("-") else f"{text} {line.text}"
    if lines[0].bullet:
        return Block("li", text)
    numbered = _NUMBERED_ITEM.match(text)
    if numbered:
        return Block("ol", text[numbered.end() :], int(numbered.group(1)))
    return Block("p", text)


def _first_line(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{error.__class__.__name__}: {text}" if text else error.__class__.__name__
