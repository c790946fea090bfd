from __future__ import annotations

from typing import Any


async def test_issue_then_call(impl: Any) -> None:
    await impl.open_window("1")
    issued = await impl.issue("SOC")
    assert issued.ticket.number == "A001"
    called = await impl.call_next("1")
    assert called is not None
    assert called.id == issued.ticket.id
    assert called.status == "called"
