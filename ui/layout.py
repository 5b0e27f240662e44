"""The app's layout and wiring: the Ask tab, the Review tab, and the /ask API endpoint.

Handlers live in ui/chat.py and ui/review.py and markup in ui/render.py; this module only
places components and connects events. Every UI event is api_visibility="private" so
the public API is exactly one documented endpoint, /ask.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from assistant.feedback import CANDIDATE_TYPES, FeedbackStore
from index.builds import StoredIndex
from records import season_order
from ui import render
from ui.chat import ChatService
from ui.config import CONCURRENCY_LIMIT, QUEUE_MAX_SIZE, AppConfig
from ui.review import RATING_CHOICES, TABLE_HEADERS, TABLE_WIDTHS, ReviewService
from ui.sources import add_sources_tab

TITLE = "CP ITG bulletin assistant"
HEADER = (
    '<div class="cpitg-header"><h1>CP ITG bulletin assistant</h1>'
    "<p>Answers from the Community Pharmacy IT Group's bulletin archive, each one cited to "
    "the bulletin section it comes from. If the archive doesn't say, it tells you so.</p></div>"
)
CHAT_PLACEHOLDER = (
    "**Ask about community pharmacy IT**\n\n"
    "Answers come only from the CP ITG bulletins (Summer 2021 to Winter 2021), "
    "with the source beside each one."
)


@dataclass(frozen=True)
class IndexFacts:
    """What the layout needs from the index: the filter choices and section names."""

    seasons: list[str]  # newest first
    topics: list[str]
    section_names: list[str]  # last heading of each section, as the eval set names them

    @classmethod
    def from_stored(cls, stored: StoredIndex) -> IndexFacts:
        """Read the facts from a build (a SearchIndex's .stored, or read_index())."""
        order = {c.season: c.season_order for c in stored.chunks.values()}
        seasons = sorted(order, key=lambda s: (-order[s], s))
        topics = sorted({c.heading_path[0] for c in stored.chunks.values() if c.heading_path})
        names = sorted({s.heading_path[-1] for s in stored.sections if s.heading_path})
        return cls(seasons=seasons, topics=topics, section_names=names)


def _season_choices(seasons: list[str]) -> list[str]:
    return sorted(seasons, key=lambda s: -season_order(s))


def build_app(
    config: AppConfig, facts: IndexFacts, store: FeedbackStore | None = None
) -> gr.Blocks:
    """Return the Gradio Blocks app, wired to assistant.ask and the feedback store."""
    store = store or FeedbackStore(config.feedback_db, config.candidates_file)
    chat = ChatService(settings=config.settings, store=store)
    review = ReviewService(
        settings=config.settings, store=store, admin_password=config.admin_password
    )
    private = {"api_visibility": "private"}
    seasons = _season_choices(facts.seasons)
    topic_choices = [("All topics", ""), *[(t, t) for t in facts.topics]]
    season_choices = [("All seasons", ""), *[(s, s) for s in seasons]]

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.HTML(HEADER)
        with gr.Tabs():
            # ---------------------------------------------------------- Ask
            with gr.Tab("Ask", id="ask", elem_id="ask-tab"):
                turns = gr.State([])
                feedback_target = gr.State(None)
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=380):
                        chatbot = gr.Chatbot(
                            label="Chat",
                            show_label=False,
                            elem_id="chat",
                            height=540,
                            placeholder=CHAT_PLACEHOLDER,
                            examples=[{"text": q} for q in chat.examples],
                            feedback_options=("Like", "Dislike"),
                            # Text is escaped in render.py; these are the second guard.
                            sanitize_html=True,
                            allow_tags=False,
                            latex_delimiters=[],
                            group_consecutive_messages=False,
                            buttons=["copy"],
                        )
                        with gr.Row():
                            question = gr.Textbox(
                                show_label=False,
                                placeholder="Ask a question about the CP ITG bulletins…",
                                elem_id="question",
                                lines=1,
                                max_lines=5,
                                scale=6,
                                autofocus=True,
                            )
                            ask_button = gr.Button(
                                "Ask", variant="primary", scale=1, min_width=80, elem_id="ask"
                            )
                        with gr.Row():
                            season_filter = gr.Dropdown(
                                choices=seasons,
                                value=[],
                                multiselect=True,
                                label="Seasons",
                                info="Only answer from these bulletins (none = all).",
                                elem_id="season-filter",
                                scale=2,
                            )
                            topic_filter = gr.Dropdown(
                                choices=topic_choices,
                                value="",
                                label="Topic",
                                elem_id="topic-filter",
                                scale=2,
                            )
                            clear_button = gr.Button(
                                "Clear chat", variant="secondary", scale=1, elem_id="clear"
                            )
                        with gr.Column(
                            visible=False, variant="panel", elem_id="feedback-form"
                        ) as feedback_form:
                            feedback_note = gr.Markdown(elem_id="feedback-note")
                            feedback_comment = gr.Textbox(
                                label="Comment (optional)",
                                lines=2,
                                max_length=4000,
                                elem_id="feedback-comment",
                            )
                            feedback_wrong = gr.Checkbox(
                                label="The cited source is wrong for this question",
                                elem_id="feedback-wrong-source",
                            )
                            feedback_send = gr.Button("Send feedback", elem_id="feedback-send")
                    with gr.Column(scale=2, min_width=320):
                        sources = gr.HTML(
                            render.SOURCES_PLACEHOLDER,
                            elem_id="sources",
                            js_on_load=render.REVEAL_MARKS_JS,
                        )

            # ---------------------------------------------------------- Review
            with gr.Tab("Review", id="review", elem_id="review-tab"):
                unlocked = gr.State(not review.locked_by_default)
                with gr.Row(visible=review.locked_by_default, elem_id="login") as login_row:
                    password = gr.Textbox(
                        label="Admin password",
                        type="password",
                        elem_id="admin-password",
                        scale=3,
                    )
                    unlock_button = gr.Button("Unlock", scale=1, elem_id="unlock")
                    login_message = gr.Markdown()
                with gr.Column(visible=not review.locked_by_default, elem_id="review") as panel:
                    with gr.Tabs():
                        with gr.Tab("Feedback", elem_id="review-feedback"):
                            with gr.Row():
                                rating_filter = gr.Radio(
                                    RATING_CHOICES, value="", label="Rating", scale=2
                                )
                                wrong_filter = gr.Checkbox(label="Wrong source only", scale=1)
                                text_filter = gr.Textbox(
                                    label="Search question, answer, comment", scale=2
                                )
                                season_review = gr.Dropdown(
                                    season_choices, value="", label="Season", scale=1
                                )
                            with gr.Row():
                                refresh_button = gr.Button("Refresh", elem_id="refresh-feedback")
                                export_button = gr.Button("Export CSV", elem_id="export-csv")
                            table = gr.Dataframe(
                                headers=TABLE_HEADERS,
                                datatype="str",
                                interactive=False,
                                wrap=True,
                                max_height=420,
                                elem_id="feedback-table",
                                column_widths=TABLE_WIDTHS,
                            )
                            csv_file = gr.File(
                                label="CSV export", elem_id="csv-file", height=90, interactive=False
                            )
                            gr.Markdown(
                                "### Turn an answer into a candidate eval item\n"
                                "Click a row above, write the correct answer facts (one per "
                                "line) and the section that holds them, then add it. Items go "
                                "to the candidates file in the eval set's shape."
                            )
                            candidate_context = gr.Markdown()
                            with gr.Row():
                                candidate_id = gr.Textbox(
                                    label="Feedback #",
                                    interactive=False,
                                    scale=1,
                                    elem_id="candidate-id",
                                )
                                candidate_type = gr.Dropdown(
                                    list(CANDIDATE_TYPES), value="factoid", label="Type", scale=1
                                )
                                candidate_season = gr.Dropdown(
                                    seasons,
                                    value=None,
                                    label="Season",
                                    allow_custom_value=True,
                                    scale=1,
                                )
                                candidate_section = gr.Dropdown(
                                    facts.section_names,
                                    value=None,
                                    label="Section",
                                    allow_custom_value=True,
                                    scale=2,
                                )
                            candidate_question = gr.Textbox(label="Question")
                            candidate_facts = gr.Textbox(
                                label="Correct answer facts (one per line)",
                                lines=3,
                                elem_id="candidate-facts",
                            )
                            candidate_quote = gr.Textbox(
                                label="Gold quote (verbatim from the source)"
                            )
                            candidate_button = gr.Button(
                                "Add to eval candidates", variant="primary", elem_id="add-candidate"
                            )
                            candidate_message = gr.Markdown(elem_id="candidate-message")
                            candidate_item = gr.JSON(label="Candidate item written")
                        with gr.Tab("Index status", elem_id="review-status"):
                            status = gr.HTML(elem_id="index-status")
                            status_button = gr.Button("Refresh status")
                        with gr.Tab("Sections", elem_id="review-sections"):
                            with gr.Row():
                                browse_season = gr.Dropdown(
                                    season_choices, value="", label="Season"
                                )
                                browse_topic = gr.Dropdown(topic_choices, value="", label="Topic")
                            section_list = gr.HTML(elem_id="section-list")
                        add_sources_tab(config.settings, unlocked)

        # -------------------------------------------------------------- chat events
        taken = gr.State("")  # the question being answered, once it has left the box
        ask_inputs = [taken, turns, season_filter, topic_filter]
        ask_outputs = [chatbot, turns, sources, feedback_form]
        box = [question, ask_button]
        answer = {"concurrency_id": "answer", "concurrency_limit": CONCURRENCY_LIMIT, **private}
        for trigger in (question.submit, ask_button.click):
            trigger(chat.take_question, [question], [*box, taken], queue=False, **private).then(
                chat.respond, ask_inputs, ask_outputs, **answer
            ).then(chat.release_question_box, None, box, queue=False, **private)

        def use_example(event: gr.SelectData) -> tuple:
            return chat.take_question(event.value["text"])

        chatbot.example_select(use_example, None, [*box, taken], queue=False, **private).then(
            chat.respond, ask_inputs, ask_outputs, **answer
        ).then(chat.release_question_box, None, box, queue=False, **private)
        chatbot.select(chat.show_sources, [turns], [sources], queue=False, **private)
        clear_outputs = [question, chatbot, turns, sources, feedback_form, feedback_target]
        clear_button.click(chat.clear, None, clear_outputs, queue=False, **private)
        chatbot.clear(chat.clear, None, clear_outputs, queue=False, **private)
        chatbot.like(
            chat.on_like,
            [turns],
            [turns, feedback_form, feedback_note, feedback_target],
            concurrency_limit=None,
            **private,
        )
        feedback_send.click(
            chat.send_feedback,
            [feedback_target, feedback_comment, feedback_wrong],
            [feedback_note, feedback_comment, feedback_wrong],
            concurrency_limit=None,
            **private,
        )

        # -------------------------------------------------------------- review events
        review_outputs = [table, status, section_list]
        unlock_event = {"concurrency_id": "unlock", "concurrency_limit": 4, **private}
        unlock_button.click(
            review.unlock,
            [password],
            [unlocked, login_row, panel, login_message, password],
            **unlock_event,
        ).then(review.load, [unlocked], review_outputs, **private)
        password.submit(
            review.unlock,
            [password],
            [unlocked, login_row, panel, login_message, password],
            **unlock_event,
        ).then(review.load, [unlocked], review_outputs, **private)
        demo.load(review.load, [unlocked], review_outputs, **private)

        table_inputs = [unlocked, rating_filter, wrong_filter, text_filter, season_review]
        refresh_button.click(review.feedback_table, table_inputs, [table], **private)
        for control in (rating_filter, wrong_filter, season_review):
            control.change(review.feedback_table, table_inputs, [table], **private)
        text_filter.submit(review.feedback_table, table_inputs, [table], **private)
        export_button.click(review.export_csv, table_inputs, [csv_file], **private)
        table.select(
            review.pick_row,
            [unlocked],
            [
                candidate_id,
                candidate_question,
                candidate_facts,
                candidate_quote,
                candidate_season,
                candidate_section,
                candidate_type,
                candidate_context,
            ],
            **private,
        )
        candidate_button.click(
            review.add_candidate,
            [
                unlocked,
                candidate_id,
                candidate_question,
                candidate_facts,
                candidate_quote,
                candidate_season,
                candidate_section,
                candidate_type,
            ],
            [candidate_message, candidate_item],
            **private,
        ).then(review.feedback_table, table_inputs, [table], **private)
        status_button.click(review.status, [unlocked], [status], **private)
        for control in (browse_season, browse_topic):
            control.change(
                review.sections, [unlocked, browse_season, browse_topic], [section_list], **private
            )

        # -------------------------------------------------------------- public API
        gr.api(chat.api_ask, api_name="ask", concurrency_id="answer")

    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_MAX_SIZE)
    return demo


def launch_options() -> dict:
    """The styling arguments Gradio 6 takes at launch() rather than in Blocks()."""
    return {"css": render.CSS, "theme": gr.themes.Default(primary_hue="blue")}
