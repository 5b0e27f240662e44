"""Make the README screenshot: the chat with an answer and its sources, as docs/screenshot.png.

    .venv/bin/python tests/app/screenshot.py [--index-dir DIR] [--out docs/screenshot.png]

It starts app.py on a free port (feedback in a temp folder), asks one question in
Debian's chromium, waits for the source cards, and saves the window. The index folder
defaults to ./index_store (`make ingest` builds it).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from browser import CHROMIUM, CHROMIUM_ARGS

from bench.appserver import REPO_ROOT, start_app

QUESTION = "When does MYS become compulsory for FP34C?"
VIEWPORT = {"width": 1400, "height": 900}


def take_screenshot(url: str, out: Path, question: str = QUESTION) -> Path:
    """Ask question in the app at url and save the window (chat and sources) to out."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(url)
            box = page.locator("#question textarea")
            box.fill(question)
            box.press("Enter")
            expect(page.locator("#sources .cpitg-card mark").first).to_be_visible(timeout=30_000)
            expect(page.locator("#chat .message.bot").last).to_contain_text("[1]")
            expect(page.locator("#ask")).to_be_enabled()  # the answer has fully arrived
            page.locator("#question textarea").blur()  # no focus ring in the picture
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
        finally:
            browser.close()
    return out


def main() -> int:
    """Start the app, take the screenshot, stop the app."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index-dir", type=Path, default=REPO_ROOT / "index_store")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "screenshot.png")
    args = parser.parse_args()
    if not (args.index_dir / "CURRENT").exists():
        print(f"error: no index in {args.index_dir}: build one with: make ingest", file=sys.stderr)
        return 3
    with tempfile.TemporaryDirectory(prefix="cpitg-shot-") as tmp:
        server = start_app(args.index_dir, Path(tmp))
        try:
            path = take_screenshot(server.url, args.out)
        finally:
            server.stop()
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
