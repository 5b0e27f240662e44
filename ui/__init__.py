"""The Gradio app's parts: rendering (render.py), chat and review handlers, and the layout."""
