"""Domain errors: each has a stable code (API clients switch on it) and a sentence a person can act on.

The Lua scripts and the pure model both report a refusal as a code plus details; ``refusal()``
turns that into the matching exception with its message, in English or Chinese.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .no_show import left_words

ECHOED = ("service", "window", "ticket", "item")  # details that come straight from the request
ECHO_MAX = 40


class DomainError(Exception):
    """A refused operation. Nothing was changed."""

    code = "domain_error"
    status = 409  # the HTTP status an API maps it to
    public: tuple[str, ...] = ()  # details an API adds to its error answer, for clients that act on them

    def __init__(self, **details: Any) -> None:
        self.details = details
        super().__init__(self.message("en"))

    def texts(self) -> tuple[str, str]:
        """(English, Chinese) templates of the sentence."""
        return MESSAGES.get(self.code, ("The operation was refused.", "操作被拒绝。"))

    def words(self, zh: bool) -> dict[str, Any]:
        """Words a sentence puts together from the details (how long is left), added to them for its template."""
        return {}

    def message(self, lang: str = "en", service_names: Mapping[str, str] | None = None) -> str:
        """The sentence in ``lang``; with ``service_names`` (code -> name in that language) a service is
        named as people know it (社保医保) rather than by its code (SOC)."""
        en, zh = self.texts()
        template = zh if lang.startswith("zh") else en
        details = {**self.details, **self.words(lang.startswith("zh"))}
        if service_names and details.get("service") in service_names:
            details = {**details, "service": service_names[details["service"]]}
        # An id echoed back from the request is cut short: a 3,000-character window id needs no 3,000-character reply.
        details = {k: v[:ECHO_MAX] + "…" if k in ECHOED and isinstance(v, str) and len(v) > ECHO_MAX else v
                   for k, v in details.items()}
        try:
            return template.format_map(details)
        except (KeyError, IndexError, ValueError):
            return template


# code -> (HTTP status, English, Chinese). The texts name what to do next, not just what went wrong.
_TABLE: dict[str, tuple[int, str, str]] = {
    "unknown_service": (404, "There is no service {service!r} in this hall; check the service code.",
                        "本大厅没有业务 {service!r}，请核对业务代码。"),
    "unknown_window": (404, "There is no window {window!r} in this hall; check the window number.",
                       "本大厅没有 {window!r} 号窗口，请核对窗口编号。"),
    # Not echoed: what was sent as a ticket id can be a citizen's ID or phone number typed in the wrong box.
    "unknown_ticket": (404, "There is no such ticket in this hall; check the ticket's link or id.",
                       "本大厅没有这张号票，请核对号票链接或编号。"),
    "no_window_for_service": (409, "No open window handles {service} right now; please send the citizen to the "
                              "guide desk (请前往人工导引台咨询).",
                              "当前没有开放的窗口办理{service}业务，请前往人工导引台咨询。"),
    "duplicate_ticket": (409, "This person already holds ticket {number} for {service}; use that ticket or cancel it "
                         "first.", "该办事人已持有{service}业务的{number}号，请使用该号或先取消。"),
    "window_closed": (409, "Window {window} is closed; open it before calling.", "{window}号窗口未开启，请先开窗。"),
    "window_paused": (409, "Window {window} is paused; resume it first.", "{window}号窗口暂停服务中，请先恢复服务。"),
    "window_busy": (409, "Window {window} is still handling {number}; finish it, mark a no-show or transfer it first.",
                    "{window}号窗口正在办理{number}号，请先办结、过号或转窗。"),
    "window_idle": (409, "Window {window} has no current ticket; call one first.",
                    "{window}号窗口当前没有号票，请先叫号。"),
    "window_already_open": (409, "Window {window} is already open.", "{window}号窗口已开启。"),
    "window_not_paused": (409, "Window {window} is not paused, so there is nothing to resume.",
                          "{window}号窗口未暂停，无需恢复。"),
    "recall_limit": (409, "Ticket {number} has been recalled {recalls} times, the limit; mark it a no-show instead.",
                     "{number}号已重呼{recalls}次，达到上限，请作过号处理。"),
    "nothing_to_recall": (409, "Window {window} has no called ticket to recall.", "{window}号窗口没有可重呼的号票。"),
    "hall_not_ready": (503, "The hall's live state is not loaded yet; try again in a few seconds.",
                       "大厅实时数据尚未加载，请稍后重试。"),
    "ticket_not_waiting": (409, "Ticket {number} is {status}, not waiting.",
                           "{number}号当前状态为{status}，不在等候中。"),
    "ticket_not_missed": (409, "Ticket {number} is {status}; only a missed ticket can be put back in the queue.",
                          "{number}号当前状态为{status}，只有过号的号票可以重新排队。"),
    "not_for_this_window": (403, "Window {window} cannot serve ticket {number}.", "{window}号窗口不能办理{number}号。"),
    # The sentence depends on why (the hall's rule for late arrivals, or the day): see _VARIANTS.
    "requeue_not_allowed": (409, "Ticket {number} cannot go back in the queue; please take a new number.",
                            "{number}号不能重新排队，请重新取号。"),
    # The hall's no-show rule (config Policy): so many recalls and so long after the call first.
    "no_show_too_early": (409, "It is too early to mark {number} a no-show: {left}, as the hall's no-show rule asks.",
                          "{number}号暂不能作过号处理：按本大厅过号规定，{left}。"),
    # A window's own late no-show, at a hall whose rule does not serve late arrivals directly: see _VARIANTS.
    "no_show_not_served": (409, "Ticket {number} missed its turn and cannot be called back here.",
                           "{number}号已过号，不能直接叫回。"),
    "idempotency_key_reused": (422, "This Idempotency-Key was used today for ticket {number} with a different "
                               "request; send a new key for a new ticket, or repeat that request to get {number} "
                               "again.", "该 Idempotency-Key 今天已用于{number}号，但请求内容不同；新取号请换用新的 "
                               "Key，原样重发原请求可再次取回{number}号。"),
    "unknown_item": (422, "There is no sub-item {item!r} of {service} in this hall; choose one of the service's "
                     "sub-items, or none.", "{service}业务下没有事项 {item!r}，请从该业务的事项中选择，或不选事项。"),
    "not_finished": (409, "Ticket {number} is {status}; only a finished ticket can be rated.",
                     "{number}号当前状态为{status}，办结后才能评价。"),
    "already_rated": (409, "Ticket {number} has been rated already; each ticket is rated once.",
                      "{number}号已评价过，每张号票只能评价一次。"),
    "rating_closed": (409, "Ticket {number} was finished too long ago to be rated; the hall's rating period for it "
                      "has ended.", "{number}号办结已超过评价期限，不能再评价。"),
    "invalid_request": (422, "{why}", "{why_zh}"),
    # A change of the hall's set-up (queue_engine.reconfig) the live day refuses.
    "setup_changed": (409, "Someone else changed the hall's set-up meanwhile (now version {version}); reload it and "
                      "make your change again.", "大厅设置已被他人修改（当前第{version}版），请刷新后重新修改。"),
    "window_in_use": (409, "Window {window} is open; close it before removing it.",
                      "{window}号窗口正在使用，请先关窗再删除。"),
    "window_has_tickets": (409, "{count} ticket(s) were transferred to window {window} and wait there; call or "
                           "transfer them before removing it.",
                           "有{count}张号票转至{window}号窗口等候，请先叫号或转走后再删除。"),
    "service_has_tickets": (409, "Tickets of {service} are still live (for one, {number}); a service can be removed "
                            "once nobody waits for it or is being served.",
                            "{service}业务仍有未办结的号票（如{number}号），待无人等候和办理时才能删除。"),
    "item_has_tickets": (409, "Tickets for sub-item {item} are still live (for one, {number}); remove it once nobody "
                         "waits for it.", "事项{item}仍有未办结的号票（如{number}号），待无人等候时才能删除。"),
}
MESSAGES: dict[str, tuple[str, str]] = {code: (en, zh) for code, (_, en, zh) in _TABLE.items()}
# code -> (the detail that decides, {its value -> (English, Chinese)}): sentences that differ with the hall's rule.
_VARIANTS: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "requeue_not_allowed": ("why", {
        "new_ticket": ("Ticket {number} cannot go back in the queue: this hall asks late arrivals to take a new "
                       "number.", "{number}号不能重新排队：本大厅过号须重新取号，请重新取号。"),
        "serve": ("Ticket {number} cannot go back in the queue: this hall serves late arrivals at the window that "
                  "called them; ask that window to call it back.",
                  "{number}号不能重新排队：本大厅过号由叫号窗口直接办理，请到该窗口叫回。"),
        "another_day": ("Ticket {number} cannot go back in the queue: it was issued on another day; please take a "
                        "new number.", "{number}号不能重新排队：该号不是当天的号，请重新取号。"),
    }),
    "no_show_not_served": ("returning", {
        "requeue": ("Ticket {number} missed its turn; this hall puts late arrivals back in line: requeue it instead "
                    "of calling it.", "{number}号已过号；本大厅过号须重新排队，请为其重新排队，不能直接叫回。"),
        "new_ticket": ("Ticket {number} missed its turn; this hall asks late arrivals to take a new number.",
                       "{number}号已过号；本大厅过号须重新取号，请群众重新取号。"),
    }),
}


class _Varied(DomainError):
    """A refusal whose sentence depends on one of its details (_VARIANTS)."""

    def texts(self) -> tuple[str, str]:
        name, variants = _VARIANTS[self.code]
        return variants.get(str(self.details.get(name)), MESSAGES[self.code])


class _TooEarly(DomainError):
    """no_show_too_early: says how many recalls and how many seconds are still to come."""

    public = ("recalls_left", "wait_s")

    def words(self, zh: bool) -> dict[str, Any]:
        return {"left": left_words(self.details.get("recalls_left", 0), self.details.get("wait_s", 0), zh)}


class _Versioned(DomainError):
    """setup_changed: tells the client which version of the set-up to reload."""

    public = ("version",)


_BASES: dict[str, type[DomainError]] = {"no_show_too_early": _TooEarly, "setup_changed": _Versioned,
                                        **dict.fromkeys(_VARIANTS, _Varied)}

BY_CODE: dict[str, type[DomainError]] = {
    code: type(
        "".join(part.title() for part in code.split("_")),
        (_BASES.get(code, DomainError),),
        {"code": code, "status": status, "__doc__": en.split(";")[0]},
    )
    for code, (status, en, _) in _TABLE.items()
}

UnknownService = BY_CODE["unknown_service"]
UnknownWindow = BY_CODE["unknown_window"]
UnknownTicket = BY_CODE["unknown_ticket"]
NoWindowForService = BY_CODE["no_window_for_service"]
DuplicateTicket = BY_CODE["duplicate_ticket"]
WindowClosed = BY_CODE["window_closed"]
WindowPaused = BY_CODE["window_paused"]
WindowBusy = BY_CODE["window_busy"]
WindowIdle = BY_CODE["window_idle"]
WindowAlreadyOpen = BY_CODE["window_already_open"]
WindowNotPaused = BY_CODE["window_not_paused"]
RecallLimit = BY_CODE["recall_limit"]
NothingToRecall = BY_CODE["nothing_to_recall"]
HallNotReady = BY_CODE["hall_not_ready"]
TicketNotWaiting = BY_CODE["ticket_not_waiting"]
TicketNotMissed = BY_CODE["ticket_not_missed"]
NotForThisWindow = BY_CODE["not_for_this_window"]
RequeueNotAllowed = BY_CODE["requeue_not_allowed"]
IdempotencyKeyReused = BY_CODE["idempotency_key_reused"]
UnknownItem = BY_CODE["unknown_item"]
NotFinished = BY_CODE["not_finished"]
AlreadyRated = BY_CODE["already_rated"]
RatingClosed = BY_CODE["rating_closed"]
InvalidRequest = BY_CODE["invalid_request"]
NoShowTooEarly = BY_CODE["no_show_too_early"]
NoShowNotServed = BY_CODE["no_show_not_served"]
SetupChanged = BY_CODE["setup_changed"]
WindowInUse = BY_CODE["window_in_use"]
WindowHasTickets = BY_CODE["window_has_tickets"]
ServiceHasTickets = BY_CODE["service_has_tickets"]
ItemHasTickets = BY_CODE["item_has_tickets"]


def refusal(code: str, details: dict[str, Any]) -> DomainError:
    """The exception for a refusal reported by a script or the model."""
    return BY_CODE[code](**details)
