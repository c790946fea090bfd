"""The Lua engine on real Redis behaves exactly like the pure model.

Hypothesis drives both with the same random commands on a small hall whose windows overlap in
skills. After every step the two must agree on the outcome (same result or same refusal), on
the events appended, and on the whole live state: tickets, windows, queue order, counters (the open and
the idle windows of each service among them). Each example draws the hall's no-show rule (how many recalls,
how long after the call, and what a late arrival gets), so every rule is held to the model; every estimate
(at issue, of a ticket, of a service) must agree to the second.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import orjson
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, multiple, rule

from queue_engine import errors
from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig, Policy
from queue_engine.engine import Engine
from queue_engine.model import HallModel
from queue_engine.records import Ticket, WindowState
from tests.conftest import MONDAY_9AM, delete_prefix, open_shards
from tests.drivers import ModelDriver

HALL = HallConfig.model_validate({
    "id": "prop",
    "name": "property test hall",
    "services": [
        {"code": "SOC", "letter": "A", "name_zh": "社保", "name_en": "Social", "target_wait_s": 600,
         "items": [{"code": "SOC-A", "name_zh": "参保"}, {"code": "SOC-B", "name_zh": "退休"}]},
        {"code": "HUK", "letter": "B", "name_zh": "户籍", "name_en": "Hukou", "target_wait_s": 900,
         "items": [{"code": "HUK-X", "name_zh": "迁入"}]},
        {"code": "TAX", "letter": "D", "name_zh": "税务", "name_en": "Tax", "target_wait_s": 1500},
        # A bundle: windows 1 and 2 serve both members, so they are given it.
        {"code": "PACK", "letter": "K", "name_zh": "一件事", "name_en": "Bundle", "bundle": ["SOC", "HUK"]},
    ],
    "windows": [
        {"id": "1", "name": "1号窗口", "services": ["SOC", "HUK", "TAX"], "primary": ["SOC"]},
        {"id": "2", "name": "2号窗口", "services": ["SOC", "HUK"], "primary": ["HUK"], "items": ["SOC-A"]},
        {"id": "3", "name": "3号窗口", "services": ["TAX"], "primary": ["TAX"], "kind": "special"},
        {"id": "4", "name": "4号窗口", "services": ["HUK", "TAX"], "items": ["HUK-X"]},
    ],
    # No no-show rule of its own: each example here draws one (RULES). The SQL projection's machine, which drives
    # this hall as it is (tests/floor/record/test_projection_vs_model.py), marks no-shows at once and requeues them.
    "policy": {"recall_limit": 2, "missed_serve_direct": 2, "returning": "requeue", "requeue": "original",
               "no_show_after_recalls": 0, "no_show_after_s": 0},
    "ratings": {"late_s": 3600},
})
# The hall's no-show rule, one per example: when staff may mark a no-show, and what a late arrival gets.
RULES = st.sampled_from([
    {"returning": "serve", "no_show_after_recalls": 1, "no_show_after_s": 60},
    {"returning": "requeue", "requeue": "original", "no_show_after_recalls": 1, "no_show_after_s": 60},
    {"returning": "requeue", "requeue": "end", "no_show_after_recalls": 0, "no_show_after_s": 30},
    {"returning": "new_ticket", "no_show_after_recalls": 2, "no_show_after_s": 0},
    {"returning": "serve", "no_show_after_recalls": 0, "no_show_after_s": 0},
])


def hall_with(rule: dict[str, Any]) -> HallConfig:
    return HALL.model_copy(update={"policy": Policy.model_validate(HALL.policy.model_dump() | rule)})


def _windows_without(data: dict[str, Any], *ids: str) -> list[dict[str, Any]]:
    return [w for w in data["windows"] if w["id"] not in ids]


def _set_ups(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The set-ups a hall may be changed to while it runs (queue_engine/reconfig.py), from HALL's."""
    no_tax = [{**w, "services": [s for s in w["services"] if s != "TAX"],
               "primary": [s for s in w["primary"] if s != "TAX"]} for w in _windows_without(data, "3")]
    return {
        "as_filed": data,
        "window_5": {**data, "windows": [*data["windows"], {"id": "5", "name": "5号窗口", "services": ["TAX", "SOC"],
                                                              "primary": ["TAX"], "items": ["SOC-B"]}]},
        "no_window_4": {**data, "windows": _windows_without(data, "4")},
        "window_2_hukou": {**data, "windows": [{**w, "services": ["HUK"], "primary": ["HUK"], "items": []}
                                               if w["id"] == "2" else w for w in data["windows"]]},
        "no_tax": {**data, "services": [s for s in data["services"] if s["code"] != "TAX"], "windows": no_tax},
        "pets": {**data, "services": [*data["services"], {"code": "PET", "letter": "P", "name_zh": "宠物",
                                                           "name_en": "Pets"}],
                 "windows": [{**w, "services": [*w["services"], "PET"]} if w["id"] == "3" else w
                             for w in data["windows"]]},
        "no_soc_b": {**data, "services": [{**s, "items": [i for i in s["items"] if i["code"] != "SOC-B"]}
                                          for s in data["services"]],
                     "windows": [{**w, "items": [i for i in w["items"] if i != "SOC-B"]} for w in data["windows"]]},
    }


SET_UPS = st.sampled_from(sorted(_set_ups(HALL.model_dump(mode="json"))))
SERVICES = st.sampled_from(["SOC", "HUK", "TAX", "PACK"])
SKILLS = st.sampled_from(["SOC", "HUK", "TAX", "PACK"])
ITEMS = st.sampled_from(["SOC-A", "SOC-B", "HUK-X", "NOPE"])
# (service, sub-item): mostly none or one of the service's own, now and then another service's or an unknown one.
ISSUED_FOR = st.sampled_from([
    ("SOC", None), ("SOC", None), ("SOC", "SOC-A"), ("SOC", "SOC-B"), ("HUK", None), ("HUK", "HUK-X"),
    ("TAX", None), ("PACK", None), ("SOC", "HUK-X"), ("TAX", "NOPE"),
])
# (priority, green-channel reason): a reason mostly goes with the green channel, as the API sends it.
PRIORITY = st.sampled_from([
    (None, None), (None, None), (None, None), (None, None), ("vip", None), ("green", None), ("green", "elderly"),
    ("green", "pregnant"), (None, "disabled"), ("vip", "military"),
])
HOLDERS = st.sampled_from([None, "张*三"])
ARCHIVED = st.sampled_from(["20261120-old001", "20261120-old002"])  # tickets of a closed day, in SQL only
WINDOWS = st.sampled_from(["1", "2", "3", "4"])
PEOPLE = st.sampled_from([None, None, "p1", "p2"])
REASONS = st.sampled_from(["", "转办", "wrong desk"])
WORK = st.sampled_from([
    "call_next", "call_next", "call_next", "start", "start", "finish", "finish", "no_show", "recall",
    "transfer_to_service", "transfer_to_window",
])


def _counting_ids() -> Any:
    n = 0

    def new_id(day: str) -> str:
        nonlocal n
        n += 1
        return f"{day}-{n:06d}"

    return new_id


def _stream_id(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq)


def _normal(ticket: Any) -> Any:
    """Issued minus the stream id, which only the engine has."""
    if hasattr(ticket, "event_id"):
        return (ticket.ticket, ticket.replay, ticket.ahead, ticket.estimated_wait_s)
    return ticket


class ModelVsEngine(RuleBasedStateMachine):
    tickets = Bundle("tickets")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = ManualClock(MONDAY_9AM)
        self.prefix = f"hqprop-{uuid.uuid4().hex[:10]}"
        self.shards = self.loop.run_until_complete(open_shards())
        self.redis = self.shards.for_tag(HALL.id)  # the Redis holding the hall (on a cluster, its slot's primary)
        self.hall = HALL
        self.start(HALL)
        self.last_event = "0-0"
        self.outcomes: Counter[tuple[str, str]] = Counter()
        self.archive: list[dict[str, Any]] = []  # every event the engine wrote, as the SQL record keeps them
        self.model_events_seen = 0

    def start(self, hall: HallConfig) -> None:
        """Model and engine of ``hall``, on an empty day."""
        self.hall = hall
        self.engine = Engine(self.shards, hall, prefix=self.prefix, clock=self.clock, new_id=_counting_ids())
        self.model = ModelDriver(hall, clock=self.clock, new_id=_counting_ids())
        self.run(self.engine.setup())

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.run(delete_prefix(self.redis, self.prefix))
        self.run(self.shards.aclose())
        self.loop.close()

    def both(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Apply one command to model and engine; they must agree on the outcome and the events."""
        outcomes = []
        for impl in (self.model, self.engine):
            try:
                outcomes.append(("ok", _normal(self.run(getattr(impl, name)(*args, **kwargs)))))
            except errors.DomainError as exc:
                outcomes.append(("refused", (exc.code, exc.details)))
        assert outcomes[0] == outcomes[1], f"{name}{args}{kwargs}: model {outcomes[0]} != engine {outcomes[1]}"
        self.compare_new_events()
        kind, value = outcomes[0]
        self.outcomes[(name, kind if value is not None else "none")] += 1
        return value if kind == "ok" else None

    def compare_new_events(self) -> None:
        engine_events = self.run(self.engine.events(self.last_event))
        model_events = self.model.model.events[self.model_events_seen:]
        assert [e.data for e in engine_events] == model_events
        self.archive += [e.data for e in engine_events]
        if engine_events:
            self.last_event = engine_events[-1].id
        self.model_events_seen = len(self.model.model.events)

    # -- rules ------------------------------------------------------------------------------
    @initialize(rule=RULES)
    def open_some_windows(self, rule: dict[str, Any]) -> None:
        if hasattr(self, "engine"):  # a machine without one (the SQL projection's) keeps HALL's rule
            self.start(hall_with(rule))  # nothing has happened yet: the same empty day, under this example's rule
        for w in ("1", "3"):
            self.both("open_window", w)

    @rule(target=tickets, specs=st.lists(st.tuples(
        ISSUED_FOR, PRIORITY, PEOPLE,
        st.sampled_from([None, None, None, -600, 0, 1200]), st.sampled_from([None, None, None, "k1", "k2"]), HOLDERS,
    ), min_size=1, max_size=4))
    def issue(self, specs: list[tuple[tuple[str, str | None], tuple[str | None, str | None], str | None, int | None,
                                      str | None, str | None]]) -> Any:
        ids = []
        for (service, item), (priority, green_reason), person, appointment, idem, holder in specs:
            appointment_ms = None if appointment is None else int((self.clock() + appointment) * 1000)
            issued = self.both("issue", service, priority=priority, person=person, appointment_ms=appointment_ms,
                               idempotency_key=idem, item=item, green_reason=green_reason, holder=holder)
            ids.append(issued[0].id if issued else "no-such-ticket")
        return multiple(*ids)

    def window_work(self, window: str, action: str, service: str, other: str, reason: str) -> None:
        if action == "transfer_to_service":
            self.both("transfer", window, to_service=service, reason=reason)
        elif action == "transfer_to_window":
            self.both("transfer", window, to_window=other, reason=reason)
        elif action == "finish":
            self.both("finish", window, "consult" if service == "HUK" else "done")
        else:
            self.both(action, window)

    # Staff work is most of a hall's day: two identical rules make it twice as likely to be drawn.
    @rule(window=WINDOWS, action=WORK, service=SERVICES, other=WINDOWS, reason=REASONS)
    def work(self, window: str, action: str, service: str, other: str, reason: str) -> None:
        self.window_work(window, action, service, other, reason)

    @rule(window=WINDOWS, action=WORK, service=SERVICES, other=WINDOWS, reason=REASONS)
    def more_work(self, window: str, action: str, service: str, other: str, reason: str) -> None:
        self.window_work(window, action, service, other, reason)

    @rule(window=WINDOWS, choice=st.integers(min_value=0, max_value=9), service=SERVICES, other=WINDOWS,
          reason=REASONS)
    def natural_work(self, window: str, choice: int, service: str, other: str, reason: str) -> None:
        """What staff at this window would plausibly do next, so long days with real traffic get explored."""
        if window not in self.model.model.windows:  # removed by a change of the set-up
            return
        state = self.model.model.windows[window]["state"]
        by_state = {
            "closed": ["open_window"],
            "paused": ["resume"],
            "idle": ["call_next"],
            "calling": ["start"] * 6 + ["recall", "recall", "no_show", "no_show"],
            "serving": ["finish"] * 8 + ["transfer_to_service", "transfer_to_window"],
        }[state]
        self.window_work(window, by_state[choice % len(by_state)], service, other, reason)

    @rule(window=WINDOWS, early=st.sampled_from([0, 0, 1, 30]))
    def no_show_when_the_rule_allows(self, window: str, early: int) -> None:
        """A called citizen who does not come: announced again as the rule asks, then marked once its time is up,
        tried ``early`` seconds before that first (both refuse alike, saying what is left)."""
        w = self.model.model.windows.get(window)
        if w is None or w["state"] != "calling":
            return
        rule, t = self.hall.policy, self.model.model.tickets[w["ticket"]]
        for _ in range(rule.no_show_after_recalls - t["recalls"]):
            self.both("recall", window)
        due_s = (t["called_at"] + rule.no_show_after_s * 1000) / 1000 - self.clock()
        self.clock.advance(max(0.0, due_s - early))
        self.both("no_show", window)
        if w["state"] == "calling":
            self.clock.advance(max(early, 1))
            assert self.both("no_show", window) is not None

    @rule(window=WINDOWS, how=st.sampled_from(["call_ticket", "requeue"]))
    def late_arrival_comes_back(self, window: str, how: str) -> None:
        """The window's latest no-show turns up: called back, or put back in line, as staff try; the rule lets one
        of them (or neither) and both refuse the rest alike."""
        if window not in self.model.model.windows:
            return
        misses = self.model.model.windows[window]["misses"]
        if not misses:
            return
        if how == "call_ticket":
            self.both("call_ticket", window, misses[0], "came back late")
        else:
            self.both("requeue", misses[0])

    @rule(window=WINDOWS, how=st.sampled_from(["call_ticket", "requeue"]), early=st.sampled_from([0, 1, 30]))
    def missed_and_back(self, window: str, how: str, early: int) -> None:
        """A whole missed visit: called, not there, marked once the rule allows, then back late. Random steps rarely
        string these together."""
        if window not in self.model.model.windows:
            return
        if self.model.model.windows[window]["state"] == "closed":
            self.both("open_window", window)
        if self.both("call_next", window) is None:
            window_conf = self.hall.window(window)
            assert window_conf is not None
            self.both("issue", window_conf.services[0])  # nobody waited for it: someone walks in
            if self.both("call_next", window) is None:
                return
        self.no_show_when_the_rule_allows(window, early)
        self.late_arrival_comes_back(window, how)

    @rule(ticket=tickets)
    def read_ticket(self, ticket: str) -> None:
        """A ticket as the phone reads it: status, place in line and estimated wait."""
        self.both("ticket", ticket)

    @rule(ticket=tickets, score=st.integers(min_value=0, max_value=6), source=st.sampled_from(["pad", "qr", "fax"]),
          comment=st.sampled_from([None, "", "窗口人员很耐心", "bad\nline"]))
    def rate(self, ticket: str, score: int, source: str, comment: str | None) -> None:
        self.both("rate", ticket, score, source, comment)

    @rule(window=WINDOWS, score=st.integers(min_value=1, max_value=5), wait=st.integers(min_value=0, max_value=7200))
    def serve_and_rate(self, window: str, score: int, wait: int) -> None:
        """A whole visit at one window: called, served, finished, then rated on the pad (or later, maybe too late).
        Random steps rarely string these together, and ratings need a finished ticket."""
        if window not in self.model.model.windows:
            return
        if self.model.model.windows[window]["state"] == "closed":
            self.both("open_window", window)
        called = self.both("call_next", window)
        if called is None:
            return
        self.both("start", window)
        self.both("finish", window)
        self.clock.advance(wait)
        self.both("rate", called.id, score, "pad")

    @rule(ticket=st.one_of(ARCHIVED, tickets), score=st.integers(min_value=1, max_value=5),
          source=st.sampled_from(["phone", "guide"]), window=st.sampled_from([None, "1"]),
          day=st.sampled_from(["20261120", "20261121", "2026-11-21"]))
    def rate_archived(self, ticket: str, score: int, source: str, window: str | None, day: str) -> None:
        self.both("rate_archived", ticket, number="A007", service="SOC", window=window, day=day, score=score,
                  source=source)

    @rule(window=WINDOWS, ticket=tickets, action=st.sampled_from(["call_ticket", "pin", "requeue", "cancel"]),
          reason=REASONS)
    def ticket_admin(self, window: str, ticket: str, action: str, reason: str) -> None:
        if action == "call_ticket":
            self.both("call_ticket", window, ticket, reason)
        elif action == "pin":
            self.both("pin", ticket, reason)
        else:
            self.both(action, ticket)

    @rule(window=WINDOWS, action=st.sampled_from(["open_window", "open_window", "close_window", "pause", "resume",
                                                  "set_services"]),
          reason=REASONS, services=st.lists(SKILLS, min_size=1, max_size=3, unique=True), data=st.data())
    def window_admin(self, window: str, action: str, reason: str, services: list[str], data: st.DataObject) -> None:
        if action == "pause":
            self.both("pause", window, reason)
        elif action == "set_services":
            primary = data.draw(st.lists(st.sampled_from(services), max_size=1))
            # None keeps the sub-item skills the window still has services for; a list (maybe of sub-items of
            # services it does not serve, or unknown ones) replaces them.
            items = data.draw(st.one_of(st.none(), st.lists(ITEMS.filter(bool), max_size=2, unique=True)))
            self.both("set_services", window, services, primary, items)
        else:
            self.both(action, window)

    @rule(name=SET_UPS, stale=st.sampled_from([False, False, False, True]))
    def reconfigure(self, name: str, stale: bool) -> None:
        """The hall's set-up changes while it runs: refused alike when the live day forbids it or the version is
        old; otherwise both fold the same hall.configured event, and go on under the new set-up."""
        data = self.hall.model_dump(mode="json")
        policy = data["policy"]
        new = HallConfig.model_validate({**_set_ups(HALL.model_dump(mode="json"))[name], "policy": policy})
        version = self.model.model.config_version - (1 if stale else 0)
        if self.both("reconfigure", new, version) is not None:
            self.hall = new.model_copy(update={"id": self.hall.id})  # the SQL record's machine runs a hall of its own

    @rule(seconds=st.integers(min_value=0, max_value=1800))
    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @rule(roll=st.integers(min_value=0, max_value=15))
    def next_day(self, roll: int) -> None:
        if roll:  # rarely: a day's end resets everything, and the interesting states need a long day
            return
        day = self.hall.business_day(self.clock())
        self.clock.advance(timedelta(hours=24).total_seconds())
        self.both("end_day", day)

    @rule(roll=st.integers(min_value=0, max_value=7))
    def redis_loses_everything(self, roll: int) -> None:
        """Redis restarts without persistence; the hall is rebuilt from the recorded events and carries on."""
        if roll:
            return
        rebuilt = HallModel.replay(self.hall, self.archive)
        self.run(delete_prefix(self.redis, self.prefix))
        assert not self.run(self.engine.has_state())
        restored_id = self.run(self.engine.load_state(rebuilt, self.last_event))
        assert _stream_id(restored_id) > _stream_id(self.last_event)
        self.outcomes[("restore", "ok")] += 1
        (marker,) = self.run(self.engine.events(self.last_event))
        assert marker.type == "hall.restored"
        self.archive.append(marker.data)
        self.last_event = marker.id

    # -- the whole state agrees -----------------------------------------------------------------
    @invariant()
    def same_state(self) -> None:
        model = self.model.model
        k = self.engine.keys
        raw_tickets, raw_windows, able, idle, people, active = self.run(self._read(
            ("hgetall", k.tickets), ("hgetall", k.windows), ("hgetall", k.able), ("hgetall", k.idle),
            ("hgetall", k.people), ("smembers", k.active)))
        assert {i.decode(): Ticket.from_json(orjson.loads(v)) for i, v in raw_tickets.items()} == {
            i: Ticket.from_json(t) for i, t in model.tickets.items()}
        assert {i.decode(): WindowState.from_json(orjson.loads(v)) for i, v in raw_windows.items()} == {
            i: WindowState.from_json(w) for i, w in model.windows.items()}
        assert {s.decode(): int(n) for s, n in able.items() if int(n)} == {s: n for s, n in model.able.items() if n}
        idle_windows = {s: model.idle_windows(s) for s in model.able}
        assert {s.decode(): int(n) for s, n in idle.items() if int(n)} == {s: n for s, n in idle_windows.items() if n}
        assert {p.decode(): t.decode() for p, t in people.items()} == model.people
        assert {t.decode() for t in active} == model.active
        late: dict[tuple[str, str], int] = {}
        for day in {"20261120", "20261121", "2026-11-21"}:
            stored = self.run(self.redis.hgetall(k.late_ratings(day)))
            late |= {(day, t.decode()): int(at) for t, at in stored.items()}
        assert late == model.late_ratings
        for name, entries in model.queues.items():
            kind, _, what = name.partition(":")
            key = k.window_queue(what) if kind == "wq" else k.queue(what)
            in_redis = self.run(self.redis.zrange(key, 0, -1, withscores=True))
            assert [(s, m.decode()) for m, s in in_redis] == entries, name  # places within a ms included
        assert self.run(self.engine.snapshot()) | {"event_id": None} == self.run(self.model.snapshot()) | {
            "event_id": None}

    @invariant()
    def replaying_the_events_rebuilds_the_state(self) -> None:
        """What a restart that lost Redis relies on: the stored events alone give back the live state."""
        rebuilt = HallModel.replay(self.hall, self.archive)
        model = self.model.model
        for name in ("tickets", "windows", "queues", "line_keys", "ages", "sequences", "people", "idempotency",
                     "able", "ewma", "active", "calls", "late_ratings"):
            assert getattr(rebuilt, name) == getattr(model, name), name

    async def _read(self, *calls: tuple[str, str]) -> list[Any]:
        async with self.redis.pipeline(transaction=True) as pipe:
            for method, key in calls:
                getattr(pipe, method)(key)
            return list(await pipe.execute())


ModelVsEngine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_model_and_engine_agree = ModelVsEngine.TestCase
