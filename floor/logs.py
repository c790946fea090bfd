"""The server's logs: one filter on every handler, so no line written anywhere holds a person's number or a
credential (a socket's ?token=, a printed ticket's ?key=, a session cookie, an Authorization header).

A filter on the handlers, not on named loggers: a logger's filter misses what its children pass up to it,
and the handler sees every record that is written, the hallq loggers', uvicorn's and the libraries', and
the traceback of an exception (a validation error's text holds the value it refused).
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from floor.identity import redact

# A value after token= or key= (URLs), the session and CSRF cookies, and the Authorization, Cookie and CSRF headers
# as a websocket handshake logs them at debug level.
_CREDENTIALS = re.compile(r"((?:token|key|hallq_session|hallq_csrf)=)[^&\s\"';]+"
                          r"|((?:authorization|cookie|x-csrf-token|x-pairing-claim):\s*)[^\r\n\"']+", re.IGNORECASE)


def _blot(text: str) -> str:
    return redact(_CREDENTIALS.sub(lambda m: f"{m.group(1) or m.group(2)}<redacted>", text))


class RedactPersonalData(logging.Filter):
    """Masks ID and mobile numbers, and credentials, in a record's message, its arguments and its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _blot(str(record.msg))
        if isinstance(record.args, tuple):
            # Element by element: uvicorn's access formatter reads its fields from the arguments.
            record.args = tuple(_blot(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _blot(v) if isinstance(v, str) else v for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = _blot(logging.Formatter().formatException(record.exc_info))
        return True


def uvicorn_log_config(level: str) -> dict[str, Any]:
    """uvicorn's own configuration with the filter on its handlers, and hallq's loggers written through them
    at the chosen level (left to themselves they would reach only Python's last-resort handler, unfiltered)."""
    from uvicorn.config import LOGGING_CONFIG  # here: the archive process uses this module without uvicorn

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": f"{__name__}.RedactPersonalData"}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact"]
    config["loggers"]["hallq"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config


def redact_root_handlers() -> None:
    """The filter on the handlers ``logging.basicConfig`` made (the archive process logs through those)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactPersonalData())
