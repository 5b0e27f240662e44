"""The evaluation suite: `python -m eval` runs a question set and writes a report folder."""
