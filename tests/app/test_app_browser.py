"""End to end in a real browser: Debian's chromium, driven by Playwright, against app.py.

One browser page walks through the product in order (each test is a step and leaves the
page where the next one starts): first load, a question with its cited source, a
follow-up, feedback, a question the archive lacks, the review desk (feedback, gaps,
status, sections), the season filter, and HTML typed as a question. A last page checks
that the desk is off when no password is set.
Every step saves a screenshot to tests/artifacts/ and checks that no dialog ever opened.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import ADMIN_PASSWORD, CHROMIUM, CHROMIUM_ARGS
from playwright import sync_api

from assistant.feedback import FeedbackStore
from bench.appserver import AppServer

expect = sync_api.expect

XSS = "<img src=x onerror=alert(1)>"
FIRST_QUESTION = "When does MYS become compulsory for FP34C?"
FOLLOW_UP = "Which pharmacy system were those pharmacies on?"
GAP = "What is the price of a pint of milk?"
SEASONS = {"Summer 2021", "Autumn 2021", "Winter 2021", "overview"}
ANSWER_TIMEOUT_MS = 30_000

# A missing browser is a set-up fault, not a reason to skip: `make test` installs it.
assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"


class Session:
    """The page under test, the dialogs it opened, and a numbered screenshot helper."""

    def __init__(self, page, server: AppServer, shots: Path) -> None:
        self.page = page
        self.server = server
        self.shots = shots
        self.dialogs: list[str] = []
        self.step = 0
        page.on("dialog", self._on_dialog)

    def _on_dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def shot(self, name: str) -> Path:
        self.step += 1
        path = self.shots / f"{self.step:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    @property
    def bot_messages(self):
        return self.page.locator("#chat .message.bot")

    def ask(self, question: str) -> None:
        """Type a question, press Enter, and wait until its answer has replaced the spinner."""
        count = self.bot_messages.count()
        box = self.page.locator("#question textarea")
        box.fill(question)
        box.press("Enter")
        expect(self.bot_messages).to_have_count(count + 1, timeout=ANSWER_TIMEOUT_MS)
        expect(self.bot_messages.last).not_to_contain_text(
            "Searching the bulletins", timeout=ANSWER_TIMEOUT_MS
        )


@pytest.fixture(scope="module")
def session(locked_app_server: AppServer, artifacts_dir: Path) -> Iterator[Session]:
    shots = artifacts_dir / "browser"
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(15_000)
        page.goto(locked_app_server.url)
        yield Session(page, locked_app_server, shots)
        browser.close()


@pytest.fixture(autouse=True)
def shot_on_failure(request: pytest.FixtureRequest, session: Session) -> Iterator[None]:
    """Save what the page looked like when a step failed, and the app's log beside it."""
    yield
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        session.shot(f"FAILED-{request.node.name}")
        (session.shots / "app.log").write_text(session.server.log())


def test_first_load_shows_examples(session: Session) -> None:
    page = session.page
    expect(page.locator("#question textarea")).to_be_visible()
    expect(page.get_by_text(FIRST_QUESTION, exact=True)).to_be_visible()
    expect(page.locator("#sources")).to_contain_text("Ask a question")
    session.shot("first-load")


def test_answer_has_citation_and_source_card(session: Session) -> None:
    session.ask(FIRST_QUESTION)
    answer = session.bot_messages.last
    expect(answer).to_contain_text("[1]")
    expect(answer).to_contain_text("As of the Winter 2021 bulletin.")
    expect(answer).to_contain_text("check the CP ITG page for anything newer")
    card = session.page.locator("#sources .cpitg-card").first
    expect(card).to_be_visible()
    assert card.locator(".cpitg-n").inner_text() == "[1]"
    assert card.locator(".cpitg-badge").inner_text() in SEASONS
    expect(card.locator("mark").first).to_be_visible()  # the sentence the answer used
    href = card.locator("a.cpitg-link").get_attribute("href")
    assert href.startswith("https://") and "#" in href
    session.shot("answer-with-sources")
    assert session.dialogs == []


def test_follow_up_uses_the_conversation(session: Session) -> None:
    """Asked alone, FOLLOW_UP finds the pharmacy-systems section; after its first question,
    it must land on the GP CPCS IT pilot the conversation is about."""
    session.ask("Where was the GP referral pilot for CPCS IT being run?")
    session.ask(FOLLOW_UP)
    sources = session.page.locator("#sources")
    expect(sources).to_contain_text(FOLLOW_UP)
    expect(sources.locator(".cpitg-path").first).to_contain_text("GP CPCS IT pilot")
    expect(session.bot_messages.last).to_contain_text("[1]")
    session.shot("follow-up")


def test_feedback_is_stored(session: Session) -> None:
    page = session.page
    page.locator('#chat button[aria-label="Dislike"]').last.click()
    expect(page.locator("#feedback-comment textarea")).to_be_visible()
    expect(page.locator("#feedback-note")).to_contain_text("saved as feedback #")
    page.locator("#feedback-comment textarea").fill(f"It was Sonar {XSS}")
    page.locator("#feedback-wrong-source input").check()
    page.locator("#feedback-send").click()
    expect(page.locator("#feedback-note")).to_contain_text("flagged the source as wrong")
    session.shot("feedback-sent")

    rows = FeedbackStore(session.server.feedback_db).list({"text": FOLLOW_UP})
    [row] = [r for r in rows if r["question"] == FOLLOW_UP]
    assert row["rating"] == "down" and row["wrong_source"] is True
    assert row["question"] == FOLLOW_UP
    assert row["comment"] == f"It was Sonar {XSS}"
    assert row["citations"] and row["history"]
    assert session.dialogs == []


def test_a_question_the_archive_lacks_says_so(session: Session) -> None:
    session.ask(GAP)
    expect(session.bot_messages.last).to_contain_text("related sections are linked")
    expect(session.page.locator("#sources")).to_contain_text("Not in the archive")
    assert session.bot_messages.last.locator("blockquote").count() == 0  # not a hedge
    session.shot("not-covered")


def test_review_tab_needs_the_password_and_shows_feedback(session: Session) -> None:
    page = session.page
    page.get_by_role("tab", name="Review").click()
    expect(page.locator("#review")).to_be_hidden()
    page.locator("#admin-password input").fill("not-the-password")
    page.locator("#unlock").click()
    expect(page.get_by_text("That password is not right.")).to_be_visible()
    expect(page.locator("#review")).to_be_hidden()
    page.locator("#admin-password input").fill(ADMIN_PASSWORD)
    page.locator("#unlock").click()
    table = page.locator("#feedback-table")
    expect(table).to_contain_text(FOLLOW_UP)
    expect(table).to_contain_text(XSS)  # the comment, shown as text
    assert page.locator("#feedback-table img").count() == 0
    session.shot("review-feedback")

    page.locator("#export-csv").click()
    download = page.locator("#csv-file a").first
    expect(download).to_have_attribute("href", re.compile(r"feedback-\d{8}-\d{6}\.csv$"))
    csv_text = page.request.get(download.get_attribute("href")).text()
    assert csv_text.startswith("id,created_at,rating") and FOLLOW_UP in csv_text

    # One click on the row fills the candidate form; the secretariat adds the facts.
    table.get_by_text(FOLLOW_UP).filter(visible=True).first.click()
    expect(page.locator("#candidate-id").get_by_role("textbox")).not_to_have_value("")
    page.locator("#candidate-facts textarea").fill("Sonar")
    page.locator("#add-candidate").click()
    expect(page.locator("#candidate-message")).to_contain_text("Added", timeout=10_000)
    made = FeedbackStore(session.server.feedback_db, session.server.candidates_file).candidates()
    [item] = [i for i in made if i["source"].startswith("feedback #")]
    assert item["answer_facts"] == ["Sonar"]
    assert item["source"].startswith("feedback #") and item["type"] == "followup"
    assert item["season"] in SEASONS and item["section"]
    session.shot("review-candidate")

    # The gaps: the question the archive lacked, by topic; one click makes it a candidate.
    page.get_by_role("tab", name="Gaps").click()
    expect(page.locator("#gaps-note")).to_contain_text("The question log is on")
    expect(page.locator("#gaps-topics")).to_contain_text(GAP)
    questions = page.locator("#gaps-questions")
    expect(questions).to_contain_text(GAP)
    assert FOLLOW_UP not in questions.inner_text()  # answered questions are no gaps
    session.shot("review-gaps")
    questions.get_by_text("+ make candidate").filter(visible=True).first.click()
    expect(page.locator("#gaps-message")).to_contain_text("Added", timeout=10_000)
    items = FeedbackStore(session.server.feedback_db, session.server.candidates_file).candidates()
    [gap] = [i for i in items if i["source"].startswith("question log #") and i["question"] == GAP]
    assert gap["question"] == GAP and gap["type"] == "unanswerable" and gap["near"]
    expect(questions).to_contain_text(gap["id"])
    page.locator("#gaps-export").click()
    download = page.locator("#gaps-csv a").first
    expect(download).to_have_attribute("href", re.compile(r"gaps-\d{8}-\d{6}\.csv$"))
    assert GAP in page.request.get(download.get_attribute("href")).text()
    session.shot("review-gap-candidate")

    page.get_by_role("tab", name="Index status").click()
    expect(page.locator("#index-status")).to_contain_text("Winter 2021")
    expect(page.locator("#index-status")).to_contain_text("Built at")
    session.shot("review-index-status")
    page.get_by_role("tab", name="Sections").click()
    expect(page.locator("#section-list")).to_contain_text("sections")
    expect(page.locator("#section-list details").first).to_be_visible()
    session.shot("review-sections")
    assert session.dialogs == []


def test_season_filter_restricts_sources(session: Session) -> None:
    page = session.page
    page.get_by_role("tab", name="Ask").click()
    page.locator("#clear").click()
    expect(session.bot_messages).to_have_count(0)
    expect(page.get_by_text(FIRST_QUESTION, exact=True)).to_be_visible()  # examples are back
    page.locator("#season-filter input").click()
    page.locator('#season-filter [role="option"][aria-label="Summer 2021"]').click()
    page.keyboard.press("Escape")
    session.ask("What is NHSmail used for?")
    badges = page.locator("#sources .cpitg-card .cpitg-badge")
    expect(badges.first).to_be_visible()
    assert set(badges.all_inner_texts()) == {"Summer 2021"}
    session.shot("season-filter")


def test_html_in_a_question_is_shown_literally(session: Session) -> None:
    page = session.page
    session.ask(XSS)
    user = page.locator("#chat .message.user").last
    expect(user).to_have_text(re.compile(re.escape(XSS)))
    expect(session.bot_messages.last).to_contain_text("couldn't find a question")
    assert page.locator("#chat img[src='x']").count() == 0
    page.wait_for_timeout(500)  # give a (wrongly) rendered onerror handler time to fire
    session.shot("html-shown-literally")
    assert session.dialogs == []


def test_clicking_an_example_answers_it(session: Session) -> None:
    page = session.page
    page.locator("#clear").click()
    page.locator("#season-filter input").click()
    page.keyboard.press("Backspace")  # remove the Summer 2021 filter chip
    page.keyboard.press("Escape")
    page.get_by_text(FIRST_QUESTION, exact=True).click()
    expect(session.bot_messages).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    expect(session.bot_messages.last).to_contain_text("[1]", timeout=ANSWER_TIMEOUT_MS)
    session.shot("example-clicked")


def test_without_a_password_the_desk_is_off(
    session: Session, app_server: AppServer, artifacts_dir: Path
) -> None:
    page = session.page.context.browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(app_server.url)
        page.get_by_role("tab", name="Review").click()
        off = page.locator("#review-off")
        expect(off).to_contain_text("The review desk is off")
        expect(off).to_contain_text("ASSISTANT_ADMIN_PASSWORD")
        assert page.locator("#admin-password").count() == 0
        assert page.locator("#feedback-table, #gaps-topics, #index-status").count() == 0
        page.screenshot(path=str(artifacts_dir / "browser" / "review-off.png"))
    finally:
        page.close()
