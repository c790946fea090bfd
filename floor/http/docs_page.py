"""A human page for the API, rendered on the server from the OpenAPI document (no CDN, no script; its style is
``floor/http/assets/docs.css``: pages carry no inline style)."""

from __future__ import annotations

import html
import json
from typing import Any


def render_docs(spec: dict[str, Any]) -> str:
    parts = ["<!doctype html><html lang=en><meta charset=utf-8><title>hallq API</title>"
             '<link rel="stylesheet" href="/assets/floor/docs.css">',
             "<h1>hallq API v1</h1>", f"<p>{html.escape(spec['info']['description'])}</p>",
             '<p>Machine-readable: <a href="/api/v1/openapi.json"><code>/api/v1/openapi.json</code></a>. '
             "Tokens: <code>hallq token --hall H --role ROLE [--window W]</code>, sent as "
             "<code>Authorization: Bearer &lt;token&gt;</code>.</p>"]
    schemas = spec["components"]["schemas"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            m = method.upper()
            parts.append(f'<div class=op><span class="m {m}">{m}</span><code>{html.escape(path)}</code>'
                         f"<div>{html.escape(op['summary'])}</div>")
            if "description" in op:
                parts.append(f"<div class=roles>{html.escape(op['description'])}</div>")
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body:
                name = body["$ref"].rsplit("/", 1)[-1]
                parts.append(f"<details><summary>Body: {name}</summary><pre>"
                             f"{html.escape(json.dumps(schemas[name], ensure_ascii=False, indent=1))}</pre></details>")
            parts.append("</div>")
    parts.append("<h2>Realtime</h2><p><code>WS /api/v1/halls/{hall}/ws/display?token=…&amp;since=&lt;event_id&gt;"
                 "</code>, <code>…/ws/console?window=W</code>, <code>…/ws/dashboard</code>: every message is "
                 "<code>{event_id, type, at, …}</code>; with <code>since</code> the server first sends every event "
                 "after that id, then live ones. A client closed with code 4008 was too slow and should reconnect "
                 "with <code>since</code> set to the last id it received.</p></html>")
    return "\n".join(parts)
