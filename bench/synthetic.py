"""A synthetic archive N times the snapshot: its sections replicated under other seasons,
each copy reworded (word substitutions, sentences reordered), for the scale benchmark.

Copy k of the archive moves every section to its own season (Spring 2017 ... Winter
2029, skipping the three the snapshot already has: 52 - 3 = 49 copies, so 50x at most),
so season filters and "latest" logic see a realistic spread. Wording varies per copy, so
that most sentences differ from every other copy's (the index embeds a repeated sentence
once, and real bulletins repeat only their standing items): years move with the copy's
season (a 2021 date in a Spring 2019 copy reads 2019), a seeded random half of the
substitution table applies, about half the sentences open with a linking phrase, and in
blocks of several sentences the order is shuffled with probability 0.3.
"""

from __future__ import annotations

import hashlib
import random
import re

from records import SEASON_NAMES, Block, Section, season_order
from sentences import split_sentences

SEASONS = [f"{name} {year}" for year in range(2017, 2030) for name in SEASON_NAMES]
SUBSTITUTIONS = {
    "update": "progress report",
    "updates": "news",
    "system": "platform",
    "systems": "platforms",
    "support": "help",
    "work": "activity",
    "new": "revised",
    "continue": "carry on",
    "plan": "intend",
    "plans": "intentions",
    "will": "is expected to",
    "also": "in addition",
    "including": "such as",
    "important": "key",
    "information": "details",
    "users": "staff",
    "further": "more",
    "currently": "at present",
    "available": "on offer",
    "requirements": "needs",
    "discussed": "considered",
    "agreed": "settled",
    "developed": "built",
    "ensure": "make sure",
    "shared": "exchanged",
    "improve": "enhance",
    "provide": "supply",
    "services": "provision",
    "members": "participants",
    "meeting": "session",
    "group": "panel",
    "access": "entry",
    "pharmacy": "chemist",
    "contractors": "pharmacy owners",
    "guidance": "advice",
    "published": "issued",
    "recently": "lately",
    "project": "programme",
}
OPENERS = (
    "Additionally, ",
    "As reported, ",
    "In this period, ",
    "Members noted that ",
    "It was confirmed that ",
    "For awareness, ",
    "At the meeting, it was said that ",
    "Separately, ",
)
_WORD = re.compile(r"\b[A-Za-z]+\b")
_YEAR = re.compile(r"\b(20[12]\d)\b")


def synthetic_sections(sections: list[Section], copies: int, seed: int = 7) -> list[Section]:
    """Return the sections plus copies-1 reworded copies, each under a season of its own.

    copies=50 gives the 50x corpus (2,350 sections from the snapshot's 47).
    """
    taken = {s.season for s in sections}
    free = [s for s in SEASONS if s not in taken]
    if copies - 1 > len(free):
        raise ValueError(f"at most {len(free) + 1} copies (one season each)")
    result = list(sections)
    for copy, season in enumerate(free[: copies - 1], start=1):
        rng = random.Random(f"{seed}-{copy}")
        table = {k: v for k, v in SUBSTITUTIONS.items() if rng.random() < 0.5}
        shift = int(season.split()[1]) - 2021  # the snapshot's bulletins are from 2021
        result.extend(_reworded(section, season, table, shift, rng) for section in sections)
    return result


def _reworded(
    section: Section, season: str, table: dict[str, str], shift: int, rng: random.Random
) -> Section:
    slug = season.lower().replace(" ", "-")
    anchor = section.url.partition("#")[2] or "top"
    key = "|".join((section.page_url, season, *section.heading_path, anchor))
    return Section(
        id=hashlib.sha1(key.encode()).hexdigest()[:16],
        url=f"{section.page_url}#{slug}-{anchor}",
        page_url=section.page_url,
        page_title=section.page_title,
        season=season,
        season_order=season_order(season),
        heading_path=section.heading_path,
        blocks=tuple(
            Block(b.kind, _reword(b.text, table, shift, rng), b.number) for b in section.blocks
        ),
    )


def _reword(text: str, table: dict[str, str], shift: int, rng: random.Random) -> str:
    """Move the years, substitute words (keeping an initial capital), add linking phrases
    to about half the sentences, then maybe shuffle them."""

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        new = table.get(word.lower())
        if new is None:
            return word
        return new[0].upper() + new[1:] if word[0].isupper() else new

    text = _YEAR.sub(lambda m: str(int(m.group(1)) + shift), text)
    sentences = [_open(s, rng) for s in split_sentences(_WORD.sub(swap, text))]
    if len(sentences) > 1 and rng.random() < 0.3:
        rng.shuffle(sentences)
    return " ".join(sentences)


def _open(sentence: str, rng: random.Random) -> str:
    """Prefix a linking phrase half the time ("Separately, the ..."), keeping acronyms."""
    if rng.random() < 0.5 or len(sentence) < 2:
        return sentence
    opener = rng.choice(OPENERS)
    # "The group" -> "the group", but "NHSmail" and "EPS" keep their capitals.
    head = sentence[0].lower() if sentence[1].islower() else sentence[0]
    return opener + head + sentence[1:]
