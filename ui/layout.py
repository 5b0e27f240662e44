"""The app's layout and wiring: the Ask tab, the review desk, and the Gradio /ask endpoint.

Handlers live in ui/chat.py, ui/review.py and ui/gaps.py, markup in ui/render.py; this
module places components and connects events. Every UI event is api_visibility="private"
so the public Gradio API is exactly one documented endpoint, /ask (the plain JSON routes,
/api/ask and /api/health, are ui/api.py's).
"""

from __future__ import annotations

import gradio as gr

from settings import Settings
from ui import render
from ui.chat import ChatService
from ui.facts import IndexFacts
from ui.gaps import GapsService, gaps_panel
from ui.review import (
    DESK_OFF,
    PRIVATE,
    Panel,
    ReviewService,
    feedback_panel,
    sections_panel,
    status_panel,
)
from ui.sources import sources_panel

TITLE = "CP ITG bulletin assistant"
HEADER = (
    '<div class="cpitg-header"><h1>CP ITG bulletin assistant</h1>'
    "<p>Answers from the Community Pharmacy IT Group's bulletin archive, each one cited to "
    "the bulletin section it comes from. If the archive doesn't say, it tells you so.</p></div>"
)


def chat_placeholder(facts: IndexFacts) -> str:
    """The empty chat's invitation, naming the bulletins the index holds."""
    dated = [s for s in facts.seasons if render.season_date(s)]
    span = f" ({dated[-1]} to {dated[0]})" if len(dated) > 1 else ""
    return (
        "**Ask about community pharmacy IT**\n\n"
        f"Answers come only from the CP ITG bulletins{span}, with the source beside each one."
    )


def build_blocks(
    settings: Settings,
    facts: IndexFacts,
    chat: ChatService,
    review: ReviewService,
    gaps: GapsService,
) -> gr.Blocks:
    """Return the Gradio Blocks app: the chat, the review desk and the /ask endpoint."""
    private = PRIVATE
    seasons = facts.seasons
    topic_choices = facts.topic_choices()

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
                            placeholder=chat_placeholder(facts),
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

            review_tab(review, gaps, facts)

        # -------------------------------------------------------------- chat events
        taken = gr.State("")  # the question being answered, once it has left the box
        ask_inputs = [taken, turns, season_filter, topic_filter]
        ask_outputs = [chatbot, turns, sources, feedback_form]
        box = [question, ask_button]
        answer = {
            "concurrency_id": "answer",
            "concurrency_limit": settings.answer_concurrency,
            **private,
        }
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

        # -------------------------------------------------------------- public API
        gr.api(chat.api_ask, api_name="ask", concurrency_id="answer")

        # A new build may bring new seasons or topics: the filters follow it. (This is the
        # only page-load work, and it is the chat's: the review desk loads on unlock.)
        demo.load(chat.filter_choices, None, [season_filter, topic_filter], queue=False, **private)

    demo.queue(
        default_concurrency_limit=settings.answer_concurrency, max_size=settings.queue_max_size
    )
    return demo


def review_tab(review: ReviewService, gaps: GapsService, facts: IndexFacts) -> None:
    """The Review tab: off without a password; else a login, then the desk's panels."""
    with gr.Tab("Review", id="review", elem_id="review-tab"):
        if not review.enabled:
            gr.Markdown(DESK_OFF, elem_id="review-off")
            return  # no review component or handler exists at all
        unlocked = gr.State(False)  # per session, kept on the server
        with gr.Row(elem_id="login") as login_row:
            password = gr.Textbox(
                label="Admin password", type="password", elem_id="admin-password", scale=3
            )
            unlock_button = gr.Button("Unlock", scale=1, elem_id="unlock")
            login_message = gr.Markdown()
        with gr.Column(visible=False, elem_id="review") as desk, gr.Tabs():
            panels = desk_panels(review, gaps, facts, unlocked)

    outputs = [unlocked, login_row, desk, login_message, password]
    # Four checks at a time across all sessions, each wrong one held for a second.
    unlock = {"concurrency_id": "unlock", "concurrency_limit": 4, **PRIVATE}
    for trigger in (unlock_button.click, password.submit):
        event = trigger(review.unlock, [password], outputs, **unlock)
        for panel in panels:
            event = event.then(panel.open, [unlocked], panel.outputs, **PRIVATE)


def desk_panels(
    review: ReviewService, gaps: GapsService, facts: IndexFacts, unlocked: gr.State
) -> list[Panel]:
    """Build the review desk's panels, one tab each, in the order they appear.

    Each panel function places its tab, wires its events (every handler checks
    `unlocked`) and returns a Panel, loaded when the desk is unlocked. A new panel is one
    more line here.
    """
    return [
        feedback_panel(review, facts, unlocked),
        gaps_panel(gaps, unlocked),
        status_panel(review, unlocked),
        sections_panel(review, facts, unlocked),
        sources_panel(review.settings, unlocked),
    ]


def launch_options() -> dict:
    """The styling arguments Gradio 6 takes at launch() (or mount) rather than in Blocks()."""
    return {"css": render.CSS, "theme": gr.themes.Default(primary_hue="blue")}
