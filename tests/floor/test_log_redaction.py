"""No credential reaches a log line: a socket's ?token= and a printed ticket's ?key= are blotted out."""

from __future__ import annotations

import logging

from floor.app import RedactTokens


def test_tokens_and_ticket_keys_in_logged_urls_are_redacted() -> None:
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, '%s - "GET %s" %d',
                               ("10.0.0.5", "/t/20261206-ab12/print?lang=zh&key=Zm9vYmFyYmF6cXV4&x=1"
                                " /api/v1/halls/demo/ws/display?token=hq1.abc.def", 200), None)
    assert RedactTokens().filter(record)
    line = record.getMessage()
    assert "Zm9vYmFyYmF6cXV4" not in line
    assert "hq1.abc.def" not in line
    assert "key=<redacted>&x=1" in line
    assert "token=<redacted>" in line
    assert "lang=zh" in line
