"""好差评 on the model and on the engine: a finished ticket is rated once, the rating is kept on the ticket and told by
its event; a ticket no longer live is rated late, once; replaying the events gives the ratings back."""

from __future__ import annotations

from typing import Any

import pytest

from queue_engine import errors
from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig
from queue_engine.engine import Engine
from queue_engine.model import HallModel
from tests.queue_engine.conftest import Build

DAY_S = 24 * 3600


def now_ms(clock: ManualClock) -> int:
    return int(clock() * 1000)


async def finished(impl: Any, window: str = "1", service: str = "SOC", outcome: str = "done") -> str:
    """A ticket issued, called, served and finished at ``window``; its id."""
    issued = await impl.issue(service)
    called = await impl.call_ticket(window, issued.ticket.id, "test set-up")
    await impl.start(window)
    await impl.finish(window, outcome)
    return str(called.id)


async def test_finished_ticket_rated_once_and_kept_on_the_ticket(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    tid = await finished(impl)
    clock.advance(20)
    rating = await impl.rate(tid, 5, "pad", "办事很快")
    assert (rating.ticket, rating.number, rating.service, rating.window, rating.day) == (
        tid, "A001", "SOC", "1", "20261123")
    assert (rating.score, rating.bad, rating.source, rating.comment, rating.late) == (
        5, False, "pad", "办事很快", False)
    stored = (await impl.ticket(tid)).ticket
    assert stored.rating == {"score": 5, "at": now_ms(clock), "source": "pad"}
    event = (await impl.events())[-1]
    assert event.type == "ticket.rated"
    assert {k: v for k, v in event.data.items() if k not in ("type", "at")} == {
        "ticket": tid, "number": "A001", "service": "SOC", "window": "1", "day": "20261123", "score": 5,
        "bad": False, "source": "pad", "comment": "办事很快", "late": False,
    }
    with pytest.raises(errors.AlreadyRated) as info:
        await impl.rate(tid, 1, "qr")
    assert info.value.status == 409
    assert (await impl.ticket(tid)).ticket.rating == stored.rating


@pytest.mark.parametrize(("score", "bad"), [(1, True), (2, True), (3, False), (4, False), (5, False)])
async def test_bad_rating_is_not_satisfied_or_worse(impl: Any, score: int, bad: bool) -> None:
    await impl.open_window("1")
    rating = await impl.rate(await finished(impl), score, "qr")
    assert rating.bad is bad
    assert (await impl.events())[-1].data["bad"] is bad


async def test_rating_without_comment_has_none(impl: Any) -> None:
    await impl.open_window("1")
    rating = await impl.rate(await finished(impl), 4, "phone", "")
    assert rating.comment is None
    assert "comment" not in (await impl.events())[-1].data


@pytest.mark.parametrize("outcome", ["done", "consult", "pickup", "other"])
async def test_every_finish_outcome_may_be_rated(impl: Any, outcome: str) -> None:
    await impl.open_window("1")
    assert (await impl.rate(await finished(impl, outcome=outcome), 4, "guide")).score == 4


async def test_ticket_finished_at_the_days_end_may_be_rated(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    issued = await impl.issue("SOC")
    await impl.call_next("1")
    await impl.start("1")
    await impl.end_day()
    assert (await impl.rate(issued.ticket.id, 3, "qr")).score == 3


async def test_rating_on_a_later_day_within_the_rating_period(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    tid = await finished(impl)
    clock.advance(6 * DAY_S)  # the demo hall takes ratings for 7 days
    assert (await impl.rate(tid, 2, "qr")).late is False


async def test_rating_after_the_rating_period_refused(impl: Any, clock: ManualClock) -> None:
    await impl.open_window("1")
    tid = await finished(impl)
    clock.advance(7 * DAY_S + 1)
    with pytest.raises(errors.RatingClosed) as info:
        await impl.rate(tid, 2, "qr")
    assert info.value.details == {"number": "A001"}
    assert (await impl.ticket(tid)).ticket.rating is None


async def test_rating_period_does_not_cut_a_ticket_of_today(build: Build, demo_hall: HallConfig,
                                                             clock: ManualClock) -> None:
    impl = await build(demo_hall.model_copy(update={"ratings": demo_hall.ratings.model_copy(update={"late_s": 0})}))
    await impl.open_window("1")
    tid = await finished(impl)
    clock.advance(3600)
    assert (await impl.rate(tid, 5, "pad")).score == 5


async def test_rate_archived_once_late_and_without_live_change(impl: Any) -> None:
    await impl.open_window("1")
    before = await impl.snapshot()
    rating = await impl.rate_archived("20261120-abcdef", number="B017", service="HUK", window="3", day="20261120",
                                      score=1, source="phone", comment="等太久")
    assert (rating.ticket, rating.number, rating.late, rating.bad, rating.window) == (
        "20261120-abcdef", "B017", True, True, "3")
    event = (await impl.events())[-1]
    assert event.type == "ticket.rated"
    assert {k: v for k, v in event.data.items() if k not in ("type", "at")} == {
        "ticket": "20261120-abcdef", "number": "B017", "service": "HUK", "window": "3", "day": "20261120",
        "score": 1, "bad": True, "source": "phone", "comment": "等太久", "late": True,
    }
    after = await impl.snapshot()
    assert {**after, "event_id": None} == {**before, "event_id": None}
    with pytest.raises(errors.UnknownTicket):
        await impl.ticket("20261120-abcdef")
    with pytest.raises(errors.AlreadyRated):
        await impl.rate_archived("20261120-abcdef", number="B017", service="HUK", window="3", day="20261120",
                                 score=5, source="qr")


async def test_rate_archived_of_a_live_ticket_rates_it_live(impl: Any) -> None:
    await impl.open_window("1")
    tid = await finished(impl)
    rating = await impl.rate_archived(tid, number="A001", service="SOC", window="1", day="20261123", score=4,
                                      source="qr")
    assert rating.late is False
    assert (await impl.ticket(tid)).ticket.rating is not None
    with pytest.raises(errors.AlreadyRated):
        await impl.rate_archived(tid, number="A001", service="SOC", window="1", day="20261123", score=4, source="qr")


async def test_rate_archived_refused_when_the_hall_takes_no_late_ratings(build: Build, demo_hall: HallConfig) -> None:
    impl = await build(demo_hall.model_copy(update={"ratings": demo_hall.ratings.model_copy(update={"late_s": 0})}))
    with pytest.raises(errors.RatingClosed):
        await impl.rate_archived("20261120-abcdef", number="B017", service="HUK", window=None, day="20261120",
                                 score=4, source="qr")


async def test_late_ratings_are_remembered_for_the_rating_period(engine: Engine, demo_hall: HallConfig) -> None:
    await engine.rate_archived("20261120-abcdef", number="B017", service="HUK", window=None, day="20261120",
                               score=3, source="guide")
    key = engine.keys.late_ratings("20261120")
    assert set(await engine.redis.hkeys(key)) == {b"20261120-abcdef"}
    ttl = await engine.redis.ttl(key)
    assert demo_hall.ratings.late_s - 5 <= ttl <= demo_hall.ratings.late_s


async def test_replay_gives_back_ratings(engine: Engine, demo_hall: HallConfig) -> None:
    await engine.open_window("1")
    tid = await finished(engine)
    await engine.rate(tid, 5, "pad")
    await engine.rate_archived("20261120-abcdef", number="B017", service="HUK", window=None, day="20261120",
                               score=2, source="qr")
    rebuilt = HallModel.replay(demo_hall, [e.data for e in await engine.events()])
    assert rebuilt.tickets[tid]["rating"]["score"] == 5
    assert ("20261120", "20261120-abcdef") in rebuilt.late_ratings
    # Redis loses the day; the rebuilt hall still refuses a second rating of either.
    await engine.redis.delete(engine.keys.tickets, engine.keys.late_ratings("20261120"))
    await engine.load_state(rebuilt, (await engine.events())[-1].id)
    with pytest.raises(errors.AlreadyRated):
        await engine.rate(tid, 1, "qr")
    with pytest.raises(errors.AlreadyRated):
        await engine.rate_archived("20261120-abcdef", number="B017", service="HUK", window=None, day="20261120",
                                   score=1, source="qr")


async def test_replay_keeps_a_rating_of_a_ticket_it_no_longer_holds(demo_hall: HallConfig) -> None:
    """A rebuild replays only the days still open: a rating of an older ticket is remembered, not applied."""
    event = {"type": "ticket.rated", "at": 1, "ticket": "20261120-abcdef", "number": "B017", "service": "HUK",
             "day": "20261120", "score": 4, "bad": False, "source": "qr", "late": False}
    rebuilt = HallModel.replay(demo_hall, [event])
    assert rebuilt.late_ratings == {("20261120", "20261120-abcdef"): 1}
