"""A pure, in-memory model of one hall's live day: the specification of the engine.

Each command takes the current time and its arguments and checks its preconditions; then it
emits its event, and applying that event is the only way state changes (``apply``). A refused
command raises a ``DomainError`` and changes nothing. Because events carry everything their
change needs, replaying a stored day's events through ``apply`` rebuilds its live state. The Lua scripts
in ``lua/`` are the fast atomic implementation of exactly these commands; the stateful test
drives both with the same commands and demands the same results, events and state.

Tickets and windows are plain dicts shaped like the JSON the scripts store, so the two can be
compared field by field. Fields that are unset are absent (the scripts' cjson drops nils).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import Any

from . import errors, policy
from .actor import ACTOR
from .checks import check_archived, check_issue, check_outcome, check_rating, check_skills, check_transfer_target
from .config import HallConfig
from .reconfig import reconfiguration

Json = dict[str, Any]


def _event(type_: str, at: int, **fields: Any) -> Json:
    event = {"type": type_, "at": at, **{k: v for k, v in fields.items() if v is not None}}
    if ACTOR.get():
        event["by"] = ACTOR.get()
    return event


class HallModel:
    def __init__(self, hall: HallConfig) -> None:
        self.hall = hall
        self.tickets: dict[str, Json] = {}
        self.windows: dict[str, Json] = {w.id: initial_window(w.services, w.primary, w.items) for w in hall.windows}
        self.queues: dict[str, list[tuple[float, str]]] = {}  # "q:SOC" / "wq:5" -> sorted (place, id)
        self.line_keys: dict[str, float] = {}  # waiting ticket id -> its place in its line: its score, or just after
        self.ages: dict[str, dict[str, int]] = {s.code: {} for s in hall.services}
        self.sequences: dict[tuple[str, str], int] = {}
        self.people: dict[str, str] = {}
        self.idempotency: dict[tuple[str, str], tuple[str, str]] = {}  # (day, key) -> (ticket id, issue_request)
        self.able: dict[str, int] = {s.code: 0 for s in hall.services}
        self.ewma: dict[str, int] = {s.code: s.handling_s * 1000 for s in hall.services}
        self.active: set[str] = set()
        self.calls: list[Json] = []
        self.late_ratings: dict[tuple[str, str], int] = {}  # (day, ticket id) -> when a ticket no longer live was rated
        self.item_service = item_services(hall)
        self.config_version = 0  # the set-up's version the live day runs on (0: none recorded yet)
        self.events: list[Json] = []

    @classmethod
    def replay(cls, hall: HallConfig, events: Iterable[Json]) -> HallModel:
        """The live state the events leave behind (they must start from an empty hall: a day's first event on)."""
        events = list(events)
        model = cls(hall)
        model._before_reconfigurations(events)
        for event in events:
            model.apply(event)
            model.events.append(event)
        return model

    def _before_reconfigurations(self, events: list[Json]) -> None:
        """A replay starts from today's set-up: windows and services removed during the day were there before."""
        for e in events:
            if e["type"] == "hall.configured":
                for window_id in e["change"].get("windows_removed") or ():
                    self.windows.setdefault(window_id, initial_window((), ()))
                for code in e["change"].get("services_removed") or ():
                    self.ages.setdefault(code, {})
                    self.able.setdefault(code, 0)
                    self.ewma.setdefault(code, 0)

    # -- events: the one place state changes ----------------------------------------------
    def _emit(self, type_: str, now: int, **fields: Any) -> Json:
        event = _event(type_, now, **fields)
        self.apply(event)
        self.events.append(event)
        return event

    def apply(self, event: Json) -> None:
        """Change the state as the event says. Commands check first; a replay of stored events calls this alone."""
        getattr(self, "_on_" + event["type"].replace(".", "_"))(event)

    def _on_ticket_issued(self, e: Json) -> None:
        t: Json = {"id": e["ticket"], "day": e["day"], "service": e["service"], "channel": e["channel"],
                   "tier": e["tier"], "number": e["number"], "issued_at": e["at"]}
        for key in ("priority", "person", "appointment_ms", "item", "green_reason", "holder"):
            if key in e:
                t[key] = e[key]
        self.tickets[t["id"]] = t
        at: int = e["appointment_ms"] if "appointment_ms" in e else e["at"]
        self._enqueue(t, f"q:{t['service']}", policy.score(t["tier"], at))
        self._revive(t)
        if "idempotency_key" in e:
            request = issue_request(e["service"], e.get("priority"), e.get("person"), e.get("appointment_ms"),
                                    e.get("item"), e.get("green_reason"))
            self.idempotency[(t["day"], e["idempotency_key"])] = (t["id"], request)
        seq = policy.sequence_of(t["number"])
        self.sequences[(t["day"], t["service"])] = max(seq, self.sequences.get((t["day"], t["service"]), 0))

    def _on_ticket_called(self, e: Json) -> None:
        t, w = self.tickets[e["ticket"]], self.windows[e["window"]]
        if t["status"] == "waiting":
            self._dequeue(t)
        else:  # a late arrival the window serves straight from its misses
            w["misses"] = [m for m in w["misses"] if m != t["id"]]
            self._revive(t)
            t.pop("finished_at", None)
        t.update(status="called", window=e["window"], called_at=e["at"], recalls=0)
        w.update(state="calling", ticket=t["id"])
        call = {"ticket": t["id"], "number": t["number"], "window": e["window"], "at": e["at"]}
        if "holder" in e:  # the lobby shows the masked name beside a real-name ticket's number
            call["holder"] = e["holder"]
        self.calls.insert(0, call)
        del self.calls[10:]

    def _on_ticket_recalled(self, e: Json) -> None:
        self.tickets[e["ticket"]]["recalls"] = e["recalls"]

    def _on_ticket_serving(self, e: Json) -> None:
        self.tickets[e["ticket"]].update(status="serving", serving_at=e["at"])
        self.windows[e["window"]]["state"] = "serving"

    def _on_ticket_finished(self, e: Json) -> None:
        t = self.tickets[e["ticket"]]
        if "handling_ms" in e:
            svc = t["service"]
            self.ewma[svc] = policy.next_ewma(self.ewma[svc], e["handling_ms"], self.hall.policy.ewma_alpha)
        t.update(status="done", outcome=e["outcome"], finished_at=e["at"])
        self._retire(t)
        if e.get("reason") != "end_of_day":  # at the day's end the window closes by its own event
            w = self.windows[e["window"]]
            _free(w)
            w["done"] = t["id"]  # the one ticket the window's rating pad may ask about

    def _on_ticket_missed(self, e: Json) -> None:
        t = self.tickets[e["ticket"]]
        if t["status"] == "waiting":
            self._dequeue(t)
        t.update(status="missed", finished_at=e["at"])
        self._retire(t)
        if e.get("reason") != "end_of_day":
            w = self.windows[e["window"]]
            # A ticket requeued and missed here again is remembered once, as the newest.
            earlier = [m for m in w["misses"] if m != t["id"]]
            w["misses"] = [t["id"], *earlier][:self.hall.policy.missed_serve_direct]
            _free(w)

    def _on_ticket_transferred(self, e: Json) -> None:
        t = self.tickets[e["ticket"]]
        if "person" in t:
            self.people.pop(f"{t['person']}|{e['from_service']}", None)
            self.people[f"{t['person']}|{e['service']}"] = t["id"]
        t.pop("window", None)
        if e["service"] != e["from_service"]:
            t.pop("item", None)  # a sub-item of the service it leaves says nothing of what it waits for now
        t.update(service=e["service"], tier=policy.TIER_TRANSFERRED)
        queue = f"wq:{e['to_window']}" if "to_window" in e else f"q:{e['service']}"
        self._enqueue(t, queue, policy.score(policy.TIER_TRANSFERRED, e["at"]))
        _free(self.windows[e["from_window"]])

    def _on_ticket_cancelled(self, e: Json) -> None:
        t = self.tickets[e["ticket"]]
        self._dequeue(t)
        self._retire(t)
        t.update(status="cancelled", finished_at=e["at"])

    def _on_ticket_pinned(self, e: Json) -> None:
        t = self.tickets[e["ticket"]]
        # VIP and green-channel tickets already come before pinned ones; pinning leaves their place alone.
        if t["tier"] > policy.TIER_PINNED:
            queue = t["queue"]
            self._dequeue(t)
            t["tier"] = policy.TIER_PINNED
            self._enqueue(t, queue, policy.score(policy.TIER_PINNED, e["at"]))
        t["pinned"] = e["reason"]

    def _on_ticket_requeued(self, e: Json) -> None:
        t = self.tickets[e["ticket"]]
        score = t["score"]
        if self.hall.policy.requeue == "end":
            t["tier"] = policy.TIER_WALK_IN
            score = policy.score(policy.TIER_WALK_IN, e["at"])
        for key in ("window", "finished_at"):
            t.pop(key, None)
        self._enqueue(t, f"q:{t['service']}", score)
        self._revive(t)

    def _on_window_opened(self, e: Json) -> None:
        w = self.windows[e["window"]]
        w.update(state="idle", since=e["at"])
        for s in w["services"]:
            self.able[s] += 1

    def _on_window_closed(self, e: Json) -> None:
        w = self.windows[e["window"]]
        for s in w["services"]:
            self.able[s] -= 1
        w.pop("reason", None)
        w.pop("ticket", None)
        w.update(state="closed", since=e["at"])

    def _on_window_paused(self, e: Json) -> None:
        self.windows[e["window"]].update(state="paused", reason=e["reason"], since=e["at"])

    def _on_window_resumed(self, e: Json) -> None:
        w = self.windows[e["window"]]
        del w["reason"]
        w.update(state="idle", since=e["at"])

    def _on_window_services_changed(self, e: Json) -> None:
        self._set_skills(self.windows[e["window"]], e)

    def _set_skills(self, w: Json, e: Json) -> None:
        if w["state"] != "closed":
            for s in w["services"]:
                self.able[s] -= 1
            for s in e["services"]:
                self.able[s] += 1
        # Events stored before windows had sub-item skills carry none.
        w.update(services=list(e["services"]), primary=list(e["primary"] or []), items=list(e.get("items") or []))

    def _on_hall_configured(self, e: Json) -> None:
        """The set-up changed (``reconfigure.lua``, in its order): services added, skills, windows and services
        removed, windows added; the configuration itself is the event's."""
        change = e["change"]
        for code, handling_ms in (change.get("services_added") or {}).items():
            self.ages.setdefault(code, {})
            self.able.setdefault(code, 0)
            self.ewma.setdefault(code, handling_ms)
        for window_id, skills in (e.get("skills") or {}).items():
            self._set_skills(self.windows[window_id], skills)
        for window_id in change.get("windows_removed") or ():
            del self.windows[window_id]
            self.queues.pop(f"wq:{window_id}", None)
        for code in change.get("services_removed") or ():
            for per_service in (self.ages, self.able, self.ewma):
                per_service.pop(code, None)
            self.queues.pop(f"q:{code}", None)
        for window_id, skills in (change.get("windows_added") or {}).items():
            self.windows.setdefault(window_id, initial_window(skills["services"], skills["primary"], skills["items"]))
        self.adopt(HallConfig.model_validate(e["config"]), e["version"])

    def adopt(self, hall: HallConfig, version: int) -> None:
        self.hall, self.config_version = hall, version
        self.item_service = item_services(hall)

    def _on_ticket_rated(self, e: Json) -> None:
        t = self.tickets.get(e["ticket"])
        if e.get("late") or t is None:
            # A ticket the live day does not hold (a rebuild puts back only the days still open): remembered only,
            # so it is not rated twice.
            self.late_ratings[(e["day"], e["ticket"])] = e["at"]
        else:
            t["rating"] = {"score": e["score"], "at": e["at"], "source": e["source"]}

    def _on_hall_restored(self, e: Json) -> None:
        """Redis lost the day and it was rebuilt from the record: a marker in the stream, no change."""

    def _on_hall_alert(self, e: Json) -> None:
        """The managers were told something needs them (``Engine.alert``): a message, no change."""

    def _on_day_closed(self, e: Json) -> None:
        for w in self.windows.values():
            w["misses"] = []
        self.able = {s: 0 for s in self.able}

    # -- state helpers --------------------------------------------------------------------
    def _enqueue(self, t: Json, queue: str, score: int) -> None:
        line = self.queues.setdefault(queue, [])
        # Tickets of one line with the same score keep the order they came in, TIE_STEP apart within the ms: Redis
        # would order a tie by ticket id, at random (common.lua enqueue).
        key: float = score
        i = bisect.bisect_left(line, (score + 1, "")) - 1
        if i >= 0 and line[i][0] >= score:
            key = min(line[i][0] + policy.TIE_STEP, score + 1 - policy.TIE_STEP)
        t["queue"], t["score"], t["status"] = queue, score, "waiting"
        self.line_keys[t["id"]] = key
        bisect.insort(line, (key, t["id"]))
        self.ages[t["service"]][t["id"]] = t["issued_at"]

    def _dequeue(self, t: Json) -> None:
        self.queues[t["queue"]].remove((self.line_keys.pop(t["id"]), t["id"]))
        del self.ages[t["service"]][t["id"]]
        del t["queue"]

    def _retire(self, t: Json) -> None:
        """The ticket leaves the live day: the person may take a new number."""
        self.active.discard(t["id"])
        if "person" in t:
            self.people.pop(f"{t['person']}|{t['service']}", None)

    def _revive(self, t: Json) -> None:
        self.active.add(t["id"])
        if "person" in t:
            self.people[f"{t['person']}|{t['service']}"] = t["id"]

    def _rank(self, t: Json) -> int:
        return bisect.bisect_left(self.queues[t["queue"]], (self.line_keys[t["id"]], t["id"]))

    def idle_windows(self, service: str) -> int:
        """Open windows skilled for ``service`` standing idle, free to call it now (the engine counts them as the
        windows change state: the ``idle`` hash)."""
        return sum(1 for w in self.windows.values() if w["state"] == "idle" and service in w["services"])

    def estimate(self, t: Json) -> tuple[int, int]:
        """(tickets ahead, estimated wait in s) of a waiting ticket."""
        ahead = self._rank(t)
        svc = t["service"]
        wait_ms = policy.estimated_wait_ms(ahead, self.ewma[svc], self.able[svc], self.idle_windows(svc),
                                           self.hall.planned_windows(svc))
        return ahead, wait_ms // 1000

    # -- checks ---------------------------------------------------------------------------
    def _window(self, window_id: str) -> Json:
        if window_id not in self.windows:
            raise errors.UnknownWindow(window=window_id)
        return self.windows[window_id]

    def _ticket(self, ticket_id: str) -> Json:
        if ticket_id not in self.tickets:
            raise errors.UnknownTicket(ticket=ticket_id)
        return self.tickets[ticket_id]

    def _current(self, window_id: str, w: Json, *, allow: tuple[str, ...]) -> Json:
        """The window's current ticket, if the window is in one of the allowed states."""
        state = w["state"]
        if state in allow:
            return self.tickets[w["ticket"]]
        if state == "closed":
            raise errors.WindowClosed(window=window_id)
        if state in ("calling", "serving"):
            raise errors.WindowBusy(window=window_id, number=self.tickets[w["ticket"]]["number"])
        raise errors.WindowIdle(window=window_id)

    def _ready_to_call(self, window_id: str, w: Json) -> None:
        if w["state"] == "closed":
            raise errors.WindowClosed(window=window_id)
        if w["state"] == "paused":
            raise errors.WindowPaused(window=window_id)
        if w["state"] != "idle":
            raise errors.WindowBusy(window=window_id, number=self.tickets[w["ticket"]]["number"])

    def _ticket_event(self, type_: str, now: int, t: Json, **fields: Any) -> Json:
        self._emit(type_, now, ticket=t["id"], number=t["number"], service=t["service"], **fields)
        return t

    # -- tickets --------------------------------------------------------------------------
    def issue(
        self, now: int, *, day: str, ticket_id: str, service: str, channel: str = "guide",
        priority: str | None = None, person: str | None = None, appointment_ms: int | None = None,
        idempotency_key: str | None = None, early: bool = False, item: str | None = None,
        green_reason: str | None = None, holder: str | None = None,
    ) -> Json:
        svc = check_issue(self.hall, service, channel, priority, item=item, green_reason=green_reason, holder=holder)
        if idempotency_key is not None and (day, idempotency_key) in self.idempotency:
            ticket_id, request = self.idempotency[(day, idempotency_key)]
            earlier = self.tickets[ticket_id]
            if request != issue_request(service, priority, person, appointment_ms, item, green_reason):
                raise errors.IdempotencyKeyReused(number=earlier["number"])
            return self._issued(earlier, service, replay=True)
        if person is not None and f"{person}|{service}" in self.people:
            held = self.tickets[self.people[f"{person}|{service}"]]
            raise errors.DuplicateTicket(service=service, number=held["number"])
        if self.able[service] == 0 and not early:
            raise errors.NoWindowForService(service=service)
        number = policy.format_number(svc.letter, self.sequences.get((day, service), 0) + 1, priority, appointment_ms)
        self._emit("ticket.issued", now, ticket=ticket_id, number=number, service=service,
                   tier=policy.entry_tier(priority, appointment_ms), channel=channel, priority=priority,
                   appointment_ms=appointment_ms, day=day, person=person, idempotency_key=idempotency_key,
                   item=item, green_reason=green_reason, holder=holder)
        return self._issued(self.tickets[ticket_id], service, replay=False)

    def _issued(self, t: Json, service: str, *, replay: bool) -> Json:
        result: Json = {"ticket": dict(t), "replay": replay}
        # A replayed ticket that was transferred since waits elsewhere: no position is given for it.
        if t["status"] == "waiting" and t["queue"] == f"q:{service}":
            result["ahead"], result["estimated_wait_s"] = self.estimate(t)
        return result

    def cancel(self, now: int, ticket_id: str) -> Json:
        t = self._ticket(ticket_id)
        if t["status"] != "waiting":
            raise errors.TicketNotWaiting(number=t["number"], status=t["status"])
        return self._ticket_event("ticket.cancelled", now, t)

    def pin(self, now: int, ticket_id: str, reason: str) -> Json:
        t = self._ticket(ticket_id)
        if t["status"] != "waiting":
            raise errors.TicketNotWaiting(number=t["number"], status=t["status"])
        return self._ticket_event("ticket.pinned", now, t, reason=reason)

    def requeue(self, now: int, ticket_id: str, *, day: str) -> Json:
        t = self._ticket(ticket_id)
        if t["status"] != "missed":
            raise errors.TicketNotMissed(number=t["number"], status=t["status"])
        mode = self.hall.policy.requeue_mode
        if mode not in ("original", "end"):  # the hall's rule puts no late arrival back in line
            raise errors.RequeueNotAllowed(number=t["number"], why=mode)
        if t["day"] != day:
            raise errors.RequeueNotAllowed(number=t["number"], why="another_day")
        return self._ticket_event("ticket.requeued", now, t)

    # -- a window's work ------------------------------------------------------------------
    def call_next(self, now: int, window_id: str) -> Json | None:
        w = self._window(window_id)
        self._ready_to_call(window_id, w)
        heads: list[policy.Candidate] = []
        own = self.queues.get(f"wq:{window_id}")
        if own:
            score, tid = own[0]
            heads.append(policy.Candidate(tid, self.tickets[tid]["service"], score))
        restricted = policy.restricted_services(w["items"], self.item_service)
        for s in w["services"]:
            entries = self.queues.get(f"q:{s}") or []
            if s in restricted:  # rule 6: the first ticket it may serve, among the first ITEM_SCAN
                entries = [(score, tid) for score, tid in entries[:policy.ITEM_SCAN]
                           if policy.serves_item(s, self.tickets[tid].get("item"), w["items"], restricted)]
            if entries:
                score, tid = entries[0]
                heads.append(policy.Candidate(tid, s, score))
        targets = {s.code: s.target_wait_s for s in self.hall.services}
        chosen = policy.choose(heads, w["primary"], targets, now)
        if chosen is None:
            return None
        return self._called(now, self.tickets[chosen.ticket], window_id)

    def _called(self, now: int, t: Json, window_id: str, reason: str | None = None) -> Json:
        # The console shows what the citizen comes for and whom to expect; the lobby shows the masked name.
        return self._ticket_event("ticket.called", now, t, window=window_id, reason=reason, holder=t.get("holder"),
                                  item=t.get("item"))

    def call_ticket(self, now: int, window_id: str, ticket_id: str, reason: str) -> Json:
        w = self._window(window_id)
        t = self._ticket(ticket_id)
        self._ready_to_call(window_id, w)
        missed_here = t["status"] == "missed" and ticket_id in w["misses"]
        if missed_here and self.hall.policy.returning != "serve":
            raise errors.NoShowNotServed(number=t["number"], returning=self.hall.policy.returning)
        if not missed_here and t["status"] != "waiting":
            raise errors.TicketNotWaiting(number=t["number"], status=t["status"])
        if not missed_here and t["queue"] != f"wq:{window_id}":
            restricted = policy.restricted_services(w["items"], self.item_service)
            if (t["queue"] not in [f"q:{s}" for s in w["services"]]
                    or not policy.serves_item(t["service"], t.get("item"), w["items"], restricted)):
                raise errors.NotForThisWindow(window=window_id, number=t["number"])
        return self._called(now, t, window_id, reason)

    def recall(self, now: int, window_id: str) -> Json:
        w = self._window(window_id)
        if w["state"] != "calling":
            if w["state"] == "closed":
                raise errors.WindowClosed(window=window_id)
            raise errors.NothingToRecall(window=window_id)
        t = self.tickets[w["ticket"]]
        if t["recalls"] >= self.hall.policy.recall_limit:
            raise errors.RecallLimit(number=t["number"], recalls=t["recalls"])
        return self._ticket_event("ticket.recalled", now, t, window=window_id, recalls=t["recalls"] + 1,
                                  holder=t.get("holder"), item=t.get("item"))

    def start(self, now: int, window_id: str) -> Json:
        w = self._window(window_id)
        if w["state"] == "serving":
            raise errors.WindowBusy(window=window_id, number=self.tickets[w["ticket"]]["number"])
        t = self._current(window_id, w, allow=("calling",))
        return self._ticket_event("ticket.serving", now, t, window=window_id)

    def finish(self, now: int, window_id: str, outcome: str) -> Json:
        check_outcome(outcome)
        w = self._window(window_id)
        t = self._current(window_id, w, allow=("calling", "serving"))
        handling: int = now - (t["serving_at"] if "serving_at" in t else t["called_at"])
        return self._ticket_event("ticket.finished", now, t, window=window_id, outcome=outcome, handling_ms=handling)

    def no_show(self, now: int, window_id: str) -> Json:
        w = self._window(window_id)
        if w["state"] == "serving":
            raise errors.WindowBusy(window=window_id, number=self.tickets[w["ticket"]]["number"])
        t = self._current(window_id, w, allow=("calling",))
        rule = self.hall.policy
        recalls_left, wait_s = policy.no_show_left(t["recalls"], t["called_at"], now, rule.no_show_after_recalls,
                                                   rule.no_show_after_s)
        if recalls_left or wait_s:
            raise errors.NoShowTooEarly(number=t["number"], recalls_left=recalls_left, wait_s=wait_s)
        return self._ticket_event("ticket.missed", now, t, window=window_id)

    def transfer(
        self, now: int, window_id: str, *, to_service: str | None = None, to_window: str | None = None,
        reason: str = "",
    ) -> Json:
        w = self._window(window_id)
        check_transfer_target(self.hall, window_id, to_service, to_window)
        t = self._current(window_id, w, allow=("calling", "serving"))
        from_service = t["service"]
        if to_service is not None and self.able[to_service] == 0:
            raise errors.NoWindowForService(service=to_service)
        if to_window is not None:
            target = self.windows[to_window]
            if target["state"] == "closed":
                raise errors.WindowClosed(window=to_window)
            restricted = policy.restricted_services(target["items"], self.item_service)
            if (from_service not in target["services"]
                    or not policy.serves_item(from_service, t.get("item"), target["items"], restricted)):
                raise errors.NotForThisWindow(window=to_window, number=t["number"])
        self._emit("ticket.transferred", now, ticket=t["id"], number=t["number"], service=to_service or from_service,
                   from_service=from_service, from_window=window_id, to_window=to_window, reason=reason)
        return t

    # -- windows --------------------------------------------------------------------------
    def _window_event(self, type_: str, now: int, window_id: str, **fields: Any) -> Json:
        self._emit(type_, now, window=window_id, **fields)
        return self.windows[window_id]

    def open_window(self, now: int, window_id: str) -> Json:
        w = self._window(window_id)
        if w["state"] != "closed":
            raise errors.WindowAlreadyOpen(window=window_id)
        return self._window_event("window.opened", now, window_id)

    def close_window(self, now: int, window_id: str) -> Json:
        w = self._window(window_id)
        if w["state"] == "closed":
            raise errors.WindowClosed(window=window_id)
        if w["state"] in ("calling", "serving"):
            raise errors.WindowBusy(window=window_id, number=self.tickets[w["ticket"]]["number"])
        return self._window_event("window.closed", now, window_id)

    def pause(self, now: int, window_id: str, reason: str) -> Json:
        w = self._window(window_id)
        if w["state"] == "paused":
            raise errors.WindowPaused(window=window_id)
        self._ready_to_call(window_id, w)
        return self._window_event("window.paused", now, window_id, reason=reason)

    def resume(self, now: int, window_id: str) -> Json:
        w = self._window(window_id)
        if w["state"] != "paused":
            raise errors.WindowNotPaused(window=window_id)
        return self._window_event("window.resumed", now, window_id)

    def set_services(self, now: int, window_id: str, services: Iterable[str], primary: Iterable[str],
                     items: Iterable[str] | None = None) -> Json:
        """Change a window's skills. Without ``items`` the window keeps those of its sub-item skills whose
        service it still serves."""
        w = self._window(window_id)
        services, primary = list(services), list(primary)
        check_skills(self.hall, window_id, services, primary, None if items is None else list(items))
        kept = list(items) if items is not None else [i for i in w["items"] if self.item_service[i] in services]
        return self._window_event("window.services_changed", now, window_id, services=services, primary=primary,
                                  items=kept)

    def reconfigure(self, now: int, new: HallConfig, from_version: int, changes: Iterable[Json] = (),
                    source: str = "live") -> Json:
        """The set-up changes while the hall runs (``reconfigure.lua``): refused, changing nothing, if it is no longer
        at ``from_version``, if a removed window is open or holds transferred tickets, or if a live ticket is for a
        removed service or sub-item."""
        if self.config_version != from_version:
            raise errors.SetupChanged(version=self.config_version)
        change = reconfiguration(self.hall, new)
        for window_id in change.windows_removed:
            w = self.windows.get(window_id)
            if w is not None and w["state"] != "closed":
                raise errors.WindowInUse(window=window_id)
            if self.queues.get(f"wq:{window_id}"):
                raise errors.WindowHasTickets(window=window_id, count=len(self.queues[f"wq:{window_id}"]))
        removed, items_gone = set(change.services_removed), set(change.items_removed)
        for ticket_id in sorted(self.active):  # the first live one by id is named, as by reconfigure.lua
            t = self.tickets[ticket_id]
            if t["service"] in removed:
                raise errors.ServiceHasTickets(service=t["service"], number=t["number"])
            if t.get("item") in items_gone:
                raise errors.ItemHasTickets(item=t["item"], number=t["number"])
        skills: dict[str, Json] = {}
        for window_id, w in self.windows.items():
            want = change.skills.get(window_id)
            if want is None and (removed & set(w["services"]) or items_gone & set(w["items"])):
                want = {"services": [s for s in w["services"] if s not in removed],
                        "primary": [s for s in w["primary"] if s not in removed],
                        "items": [i for i in w["items"] if i not in items_gone]}
            if want is not None and window_id not in change.windows_removed:
                skills[window_id] = want
        return self._emit("hall.configured", now, version=from_version + 1, config=new.model_dump(mode="json"),
                          source=source, change=change.as_json(), skills=skills, changes=list(changes))

    # -- ratings (好差评) -------------------------------------------------------------------
    def rate(self, now: int, ticket_id: str, score: int, source: str, comment: str | None = None, *,
             today: str) -> Json:
        """A citizen's rating (好差评) of a finished ticket the live day holds, once: on its own day, or later
        within the hall's rating period after it was finished. Its event (``ticket.rated``) is what the
        dashboard, the 差评 cases and the provincial system are fed."""
        check_rating(score, source, comment)
        t = self._ticket(ticket_id)
        return self._rate_live(now, t, score, source, comment or None, today)

    def _rate_live(self, now: int, t: Json, score: int, source: str, comment: str | None, today: str) -> Json:
        if t["status"] != "done":
            raise errors.NotFinished(number=t["number"], status=t["status"])
        if "rating" in t:
            raise errors.AlreadyRated(number=t["number"])
        if t["day"] != today and now - t["finished_at"] > self.hall.ratings.late_s * 1000:
            raise errors.RatingClosed(number=t["number"])
        return self._emit("ticket.rated", now, ticket=t["id"], number=t["number"], service=t["service"],
                          window=t.get("window"), day=t["day"], score=score, bad=policy.is_bad(score), source=source,
                          comment=comment, late=False)

    def rate_archived(
        self, now: int, ticket_id: str, *, number: str, service: str, window: str | None, day: str, score: int,
        source: str, comment: str | None = None, today: str,
    ) -> Json:
        """A late rating of a ticket the live day no longer holds (it is in the SQL record only, whose caller
        has checked it was finished within the rating period): once per ticket, remembered for that period.
        It emits ``ticket.rated`` with ``late`` true and changes no live state. A ticket still live is rated
        as by ``rate``."""
        check_rating(score, source, comment)
        check_archived(number, day)
        comment = comment or None
        if ticket_id in self.tickets:
            return self._rate_live(now, self.tickets[ticket_id], score, source, comment, today)
        if self.hall.ratings.late_s == 0:  # the hall takes no late ratings
            raise errors.RatingClosed(number=number)
        if (day, ticket_id) in self.late_ratings:
            raise errors.AlreadyRated(number=number)
        return self._emit("ticket.rated", now, ticket=ticket_id, number=number, service=service, window=window,
                          day=day, score=score, bad=policy.is_bad(score), source=source, comment=comment, late=True)

    # -- the day --------------------------------------------------------------------------
    def end_day(self, now: int, day: str) -> Json:
        """Close the business day ``day``: leftovers missed, those being served finished, windows closed."""
        missed = finished = 0
        for tid in sorted(self.active):
            t = self.tickets[tid]
            if t["day"] > day:
                continue
            if t["status"] == "serving":
                finished += 1
                self._ticket_event("ticket.finished", now, t, window=t.get("window"), outcome="other",
                                   reason="end_of_day")
            else:
                missed += 1
                self._ticket_event("ticket.missed", now, t, window=t.get("window"), reason="end_of_day")
        for window_id in sorted(self.windows):
            if self.windows[window_id]["state"] != "closed":
                self._emit("window.closed", now, window=window_id, reason="end_of_day")
        summary = {"day": day, "missed": missed, "finished": finished}
        self._emit("day.closed", now, **summary)
        return summary

    # -- reads ----------------------------------------------------------------------------
    def snapshot(self, now: int) -> Json:
        services = []
        for s in self.hall.services:
            ages = self.ages[s.code]
            oldest = min(ages.values()) if ages else None
            services.append({
                "code": s.code, "waiting": len(ages),
                "longest_wait_s": (now - oldest) // 1000 if oldest is not None else 0,
                "estimated_wait_s": policy.estimated_wait_ms(
                    len(ages), self.ewma[s.code], self.able[s.code], self.idle_windows(s.code),
                    self.hall.planned_windows(s.code)) // 1000,
                "able_windows": self.able[s.code],
            })
        windows = []
        for window_id in (w.id for w in self.hall.windows):
            w = self.windows[window_id]
            entry: Json = {"id": window_id, "state": w["state"], "services": list(w["services"]),
                           "primary": list(w["primary"]), "items": list(w["items"])}
            if "ticket" in w:
                entry["ticket"] = self.tickets[w["ticket"]]["number"]
                entry["ticket_id"] = w["ticket"]
            if "reason" in w:
                entry["reason"] = w["reason"]
            windows.append(entry)
        return {"services": services, "windows": windows, "recent_calls": [dict(c) for c in self.calls]}


def issue_request(
    service: str, priority: str | None, person: str | None, appointment_ms: int | None, item: str | None = None,
    green_reason: str | None = None,
) -> str:
    """What an issue asked for, as kept with its Idempotency-Key: a retry must ask for the same, or it is
    a different request reusing the key (it would otherwise silently get another service's ticket).
    The sub-item and green-channel reason are appended only when given, so a key kept before tickets had
    them still replays. ``lua/issue.lua`` builds the same string."""
    request = f"{service}|{priority or ''}|{person or ''}|{'' if appointment_ms is None else appointment_ms}"
    if item is not None or green_reason is not None:
        request += f"|{item or ''}|{green_reason or ''}"
    return request


def initial_window(services: Iterable[str], primary: Iterable[str], items: Iterable[str] = ()) -> Json:
    return {"state": "closed", "services": list(services), "primary": list(primary), "items": list(items),
            "misses": []}


def item_services(hall: HallConfig) -> dict[str, str]:
    """Sub-item code -> the service it belongs to."""
    return {i.code: s.code for s in hall.services for i in s.items}


def _free(w: Json) -> None:
    w.pop("ticket", None)
    w["state"] = "idle"
