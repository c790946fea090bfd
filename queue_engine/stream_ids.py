"""Event stream ids ("<ms>-<seq>", as Redis writes them) as numbers, so they compare in stream order."""

from __future__ import annotations

StreamKey = tuple[int, int]


def parse_stream_id(stream_id: str | bytes) -> StreamKey:
    text = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def format_stream_id(key: StreamKey) -> str:
    return f"{key[0]}-{key[1]}"
