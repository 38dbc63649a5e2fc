"""Log output: JSON off a terminal, text on one, and the canonical line of a finished call."""

from __future__ import annotations

import io
import json
import logging

from videoassist.logs import JsonFormatter, TextFormatter, configure


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _record(**fields: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "videoassist.service", logging.INFO, __file__, 1, "call %s", ("finished",), None
    )
    record.fields = fields
    return record


def test_json_puts_the_fields_at_the_top_level() -> None:
    line = JsonFormatter().format(_record(queue="general", wait=3.5, agent="alice"))
    data = json.loads(line)
    assert data["message"] == "call finished" and data["level"] == "info"
    assert (data["queue"], data["wait"], data["agent"]) == ("general", 3.5, "alice")
    assert "\n" not in line


def test_a_field_never_overwrites_the_message() -> None:
    data = json.loads(JsonFormatter().format(_record(message="forged")))
    assert data["message"] == "call finished"


def test_text_appends_the_fields() -> None:
    assert TextFormatter().format(_record(queue="general")).endswith("call finished queue=general")


def test_configure_picks_json_off_a_terminal_and_text_on_one() -> None:
    root = logging.getLogger()
    for stream, is_json in ((io.StringIO(), True), (Terminal(), False)):
        handler = configure(stream)
        try:
            logging.getLogger("videoassist.test").info("hello", extra={"fields": {"n": 1}})
        finally:
            root.removeHandler(handler)
        line = stream.getvalue().strip().splitlines()[-1]
        if is_json:
            assert json.loads(line)["n"] == 1
        else:
            assert line.endswith("hello n=1")
