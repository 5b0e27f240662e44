"""The Review desk's Sources panel: the source registry, each source's state, and a Refresh.

It lists what `python -m ingest list` lists (every source, and the pages of crawls and
folders, with status, sections, last fetch and last error), and its Refresh button runs
`python -m ingest refresh`'s entry function, ingest.update.update(), in the app itself:
conditional re-fetches, nothing re-embedded when nothing changed, and the chat answers
from the new build as soon as it is switched in. Like the rest of the review desk, every
handler checks the session's unlocked state on the server.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import gradio as gr

from index.errors import IndexError_, IngestLockedError
from ingest.sources import list_rows, load_registry
from ingest.update import BadRequest, update
from settings import Settings
from ui import render
from ui.review import PRIVATE, Panel, desk_table

log = logging.getLogger("cpitg.app")

HEADERS = ["source", "kind", "status", "sections", "last fetch (UTC)", "last error"]
WIDTHS = ["40%", "7%", "7%", "8%", "16%", "22%"]
PAGE_MARK = "↳ "  # a crawl's or folder's page, under its source


@dataclass
class SourcesPanel:
    """The Sources panel's handlers for one index folder."""

    settings: Settings

    def _require(self, unlocked: bool) -> None:
        if not unlocked:
            raise gr.Error("Unlock the Review tab with the admin password first.")

    def load(self, unlocked: bool) -> tuple[list[list]]:
        """What the tab shows when the desk opens: the table."""
        return (self.rows(unlocked),)

    def rows(self, unlocked: bool) -> list[list]:
        """The registry as table rows: each source, then its pages when it has several."""
        self._require(unlocked)
        registry = load_registry(self.settings.index_dir)
        table = []
        for row in list_rows(registry):
            page = bool(row.get("parent"))
            where = row.get("path") or row["url"] or ""
            if row["id"] == "snapshot":
                where = f"bundled snapshot ({row['url']})"
            table.append(
                [
                    f"{PAGE_MARK}{where}" if page else where,
                    row["kind"],
                    row["status"],
                    row["sections"],
                    _when(row["fetched_at"]),
                    row["error"] or row.get("note") or "",
                ]
            )
        return table

    def refresh(self, unlocked: bool) -> tuple[str, list[list]]:
        """Refresh every source, then say what changed. Outputs: message, table."""
        self._require(unlocked)
        try:
            outcome = update(self.settings, refresh=None, progress=False)
        except IngestLockedError:
            return "⚠ Another ingest is running on this index; try again when it ends.", gr.skip()
        except (IndexError_, BadRequest, OSError) as error:
            log.warning("refresh from the review desk failed: %s", error)
            return f"⚠ {render.md_escape(str(error))}", self.rows(True)
        return _report(outcome), self.rows(True)


def _when(stamp: str | None) -> str:
    return (stamp or "").replace("T", " ").replace("+00:00", "")


def _report(outcome) -> str:
    """A few Markdown lines: what the refresh changed and what went wrong."""
    if outcome.build is None:
        lines = ["⚠ Nothing was indexed."]
    else:
        changes = outcome.build.changes
        head = (
            f"✓ New build {outcome.build.build_id}"
            if outcome.build.written
            else "✓ Up to date: nothing changed"
        )
        lines = [f"{head}. {render.md_escape(changes.summary())}."]
        if outcome.build.written:
            lines.append(f"{outcome.build.embedded} texts embedded; the rest were reused.")
    lines += [f"⚠ {render.md_escape(str(error))}" for error in outcome.errors]
    lines += [f"⚠ {render.md_escape(warning)}" for warning in outcome.warnings]
    return "\n\n".join(lines)


def sources_panel(settings: Settings, unlocked: gr.State) -> Panel:
    """Place the Sources tab inside the review desk's tabs and wire its events (private)."""
    panel = SourcesPanel(settings)
    with gr.Tab("Sources", elem_id="review-sources") as tab:
        gr.Markdown(
            "Every source the index is built from. **Refresh** fetches each one again "
            "(only what changed is fetched and embedded); a source that fails keeps its "
            "last good content and shows as *stale*."
        )
        table = desk_table(HEADERS, WIDTHS, "sources-table")
        refresh_button = gr.Button("Refresh sources", elem_id="refresh-sources")
        message = gr.Markdown(elem_id="sources-message")
    tab.select(panel.rows, [unlocked], [table], **PRIVATE)
    refresh_button.click(
        panel.refresh,
        [unlocked],
        [message, table],
        concurrency_id="sources-refresh",
        concurrency_limit=1,  # one refresh at a time; the ingest lock guards the rest
        **PRIVATE,
    )
    return Panel(panel.load, [table])
