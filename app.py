"""The chat app (Gradio): ask the bulletin archive, see the answer and its sources."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

from assistant import BadQuestionError, ask, get_index  # noqa: E402


def respond(message: str, history: list[dict]) -> str:
    """Answer one chat message with the answer and its numbered sources."""
    try:
        answer = ask(message, history=history)
    except BadQuestionError as error:
        return f"Sorry, {error}."
    lines = [answer.answer]
    for c in answer.citations:
        lines.append(f"\n[{c.n}] {c.season} > {' > '.join(c.heading_path)} — {c.url}")
    return "\n".join(lines)


def build_app() -> gr.Blocks:
    """Return the Gradio app."""
    get_index()  # load the model and index once, at start-up
    return gr.ChatInterface(respond, title="CP ITG bulletin assistant")


if __name__ == "__main__":
    build_app().launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    )
