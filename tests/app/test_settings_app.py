"""The App and UI settings: one object, every field read from its environment variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from settings import Settings, SettingsError, load_settings

APP_VARIABLES = {
    "host": "GRADIO_SERVER_NAME",
    "port": "GRADIO_SERVER_PORT",
    "admin_password": "ASSISTANT_ADMIN_PASSWORD",
    "feedback_db": "ASSISTANT_FEEDBACK_DB",
    "candidates_file": "ASSISTANT_CANDIDATES_FILE",
    "question_log": "ASSISTANT_QUESTION_LOG",
    "question_log_days": "ASSISTANT_QUESTION_LOG_DAYS",
    "answer_concurrency": "ASSISTANT_ANSWER_CONCURRENCY",
    "torch_threads": "ASSISTANT_TORCH_THREADS",
    "queue_max_size": "ASSISTANT_QUEUE_MAX_SIZE",
    "api_max_body_bytes": "ASSISTANT_API_MAX_BODY_BYTES",
    "api_max_history": "ASSISTANT_API_MAX_HISTORY",
    "failed_login_delay_s": "ASSISTANT_FAILED_LOGIN_DELAY_S",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in [*APP_VARIABLES.values(), "ASSISTANT_INDEX_DIR"]:
        monkeypatch.delenv(variable, raising=False)


def test_every_app_field_names_its_variable_and_says_what_it_is() -> None:
    for name, variable in APP_VARIABLES.items():
        field = Settings.model_fields[name]
        assert field.json_schema_extra["env"] == variable
        assert field.description and f"(env {variable})" in field.description


def test_defaults() -> None:
    settings = load_settings(index_dir=Path("/data/idx"))
    assert (settings.host, settings.port) == ("127.0.0.1", 7860)
    assert settings.admin_password is None  # the review desk is off
    assert settings.feedback_db_path == Path("/data/feedback.db")
    assert settings.candidates_path == Path("/data/eval_candidates.jsonl")
    assert settings.question_log is True and settings.question_log_days == 90


def test_the_environment_fills_every_field(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    values = {
        "GRADIO_SERVER_NAME": "0.0.0.0",
        "GRADIO_SERVER_PORT": "8080",
        "ASSISTANT_ADMIN_PASSWORD": "s3cret",
        "ASSISTANT_FEEDBACK_DB": str(tmp_path / "fb.db"),
        "ASSISTANT_CANDIDATES_FILE": str(tmp_path / "c.jsonl"),
        "ASSISTANT_QUESTION_LOG": "off",
        "ASSISTANT_QUESTION_LOG_DAYS": "30",
        "ASSISTANT_ANSWER_CONCURRENCY": "1",
        "ASSISTANT_QUEUE_MAX_SIZE": "8",
        "ASSISTANT_API_MAX_BODY_BYTES": "4096",
        "ASSISTANT_API_MAX_HISTORY": "3",
        "ASSISTANT_FAILED_LOGIN_DELAY_S": "2.5",
    }
    for variable, value in values.items():
        monkeypatch.setenv(variable, value)
    settings = load_settings()
    assert (settings.host, settings.port) == ("0.0.0.0", 8080)
    assert settings.admin_password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)  # a logged settings object keeps the password
    assert settings.feedback_db_path == tmp_path / "fb.db"
    assert settings.candidates_path == tmp_path / "c.jsonl"
    assert settings.question_log is False and settings.question_log_days == 30
    assert (settings.answer_concurrency, settings.queue_max_size) == (1, 8)
    assert (settings.api_max_body_bytes, settings.api_max_history) == (4096, 3)
    assert settings.failed_login_delay_s == 2.5
    assert load_settings(port=9000).port == 9000  # a flag still wins


def test_an_empty_variable_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_ADMIN_PASSWORD", "")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "  ")
    settings = load_settings()
    assert settings.admin_password is None and settings.port == 7860


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("GRADIO_SERVER_PORT", "abc", "GRADIO_SERVER_PORT must be a port number (0-65535), "
         "not 'abc'"),
        ("GRADIO_SERVER_PORT", "70000", "must be a port number (0-65535), not '70000'"),
        ("ASSISTANT_QUESTION_LOG", "maybe", "ASSISTANT_QUESTION_LOG must be on or off, "
         "not 'maybe'"),
        ("ASSISTANT_QUESTION_LOG_DAYS", "0", "ASSISTANT_QUESTION_LOG_DAYS must be a whole number"),
        ("ASSISTANT_ANSWER_CONCURRENCY", "-1", "ASSISTANT_ANSWER_CONCURRENCY must be"),
        ("ASSISTANT_API_MAX_BODY_BYTES", "10", "ASSISTANT_API_MAX_BODY_BYTES must be"),
    ],
)  # fmt: skip
def test_a_bad_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert message in str(caught.value) and "\n" not in str(caught.value)
