"""No credential reaches a log line: a socket's ?token=, a printed ticket's ?key=, a session cookie and the headers
that carry credentials are blotted out, by the filter on every handler."""

from __future__ import annotations

import logging

from floor.logs import RedactPersonalData


def test_tokens_and_ticket_keys_in_logged_urls_are_redacted() -> None:
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, '%s - "GET %s" %d',
                               ("10.0.0.5", "/t/20261206-ab12/print?lang=zh&key=Zm9vYmFyYmF6cXV4&x=1"
                                " /api/v1/halls/demo/ws/display?token=hq1.abc.def", 200), None)
    assert RedactPersonalData().filter(record)
    line = record.getMessage()
    assert "Zm9vYmFyYmF6cXV4" not in line
    assert "hq1.abc.def" not in line
    assert "key=<redacted>&x=1" in line
    assert "token=<redacted>" in line
    assert "lang=zh" in line


def test_session_cookies_and_credential_headers_are_redacted() -> None:
    handshake = ("< GET /api/v1/halls/demo/ws/console?window=2 HTTP/1.1\n< cookie: hallq_csrf=Ki7zV2; "
                 "hallq_session=hq1.eyJo.sig\n< authorization: Bearer hq1.abc.def\n< x-csrf-token: Ki7zV2\n"
                 "< origin: http://127.0.0.1:8000")
    record = logging.LogRecord("websockets.server", logging.DEBUG, __file__, 1, "%s", (handshake,), None)
    assert RedactPersonalData().filter(record)
    line = record.getMessage()
    for secret in ("hq1.eyJo.sig", "Ki7zV2", "hq1.abc.def"):
        assert secret not in line, line
    assert "origin: http://127.0.0.1:8000" in line  # what is no credential stays readable
    assert "/ws/console?window=2" in line
