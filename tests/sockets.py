"""A stand-in for a websocket's ``send_text`` that keeps what was sent, for tests of the feeds' listeners."""

from __future__ import annotations

from floor.realtime.outbox import Outbox


class RecordingSocket:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_text(self, text: str) -> None:
        self.sent.append(text)

    async def give_up(self) -> None:
        raise AssertionError("these tests never fall behind")

    def outbox(self, *, held: bool = False) -> Outbox:
        return Outbox(self.send_text, limit=100, give_up=self.give_up, held=held)
