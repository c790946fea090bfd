"""The hall's no-show (过号) rule in words: the one sentence every printed, spoken and shown text about no-shows
is, and the words of a refusal that comes too early.

The rule itself is the hall's ``Policy`` (``config.py``): how many recalls and how long after the call before staff
may mark a no-show, and what a citizen who comes back late gets. ``notice`` writes it for citizens; the printed
ticket and the phone page carry it, ``GET /config`` gives it (``no_show_notice``) to every other page. It lives in
the core, beside the rule, so that every face of the server (``floor.hall`` below ``floor.tickets`` among them) can
read it.
"""

from __future__ import annotations

from functools import cache

from .config import Policy


def span(seconds: int, zh: bool) -> str:
    """A length of time as people say it: 45秒, 1分钟, 1分30秒 (45 seconds, 1 minute, 1 min 30 s)."""
    minutes, rest = divmod(seconds, 60)
    if zh:
        if not minutes:
            return f"{rest}秒"
        return f"{minutes}分钟" if not rest else f"{minutes}分{rest}秒"
    if not minutes:
        return f"{rest} second{'s' if rest != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}" if not rest else f"{minutes} min {rest} s"


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def notice(policy: Policy) -> dict[str, str]:
    """The no-show sentence of the hall's rule, ``{"zh": ..., "en": ...}``: when a number counts as missed, and what
    to do then."""
    zh, en = _sentences(policy)
    return {"zh": zh, "en": en}


@cache  # a hall's policy does not change while the server runs (a frozen, hashable model)
def _sentences(policy: Policy) -> tuple[str, str]:
    recalls, after_s = policy.no_show_after_recalls, policy.no_show_after_s
    repeats = "one repeat call" if recalls == 1 else f"{recalls} repeat calls"
    if recalls and after_s:
        when_zh = f"重呼{recalls}次且超过{span(after_s, True)}仍未到窗口的，作过号处理"
        when_en = f"If you are not at the window {span(after_s, False)} after the call and after {repeats}"
    elif recalls:
        when_zh = f"重呼{recalls}次仍未到窗口的，作过号处理"
        when_en = f"If you are not at the window after {repeats}"
    elif after_s:
        when_zh = f"叫号后超过{span(after_s, True)}仍未到窗口的，作过号处理"
        when_en = f"If you are not at the window {span(after_s, False)} after the call"
    else:
        when_zh = "叫号时未到窗口的，作过号处理"
        when_en = "If you are not at the window when called"
    if policy.returning == "serve":
        then_zh = "过号后请尽快回到叫号窗口，工作人员会直接为您办理。"
        then_en = "come back to the window that called you as soon as you can, to be served there."
    elif policy.returning == "requeue" and policy.requeue == "end":
        then_zh = "过号后请到叫号窗口，工作人员会为您重新排到队尾。"
        then_en = "then go to the window that called you to be put back at the end of the line."
    elif policy.returning == "requeue":
        then_zh = "过号后请到叫号窗口，工作人员会为您按原顺序重新排队。"
        then_en = "then go to the window that called you to be put back in line in your old place."
    else:
        then_zh = "过号后请重新取号。"
        then_en = "then please take a new number."
    return f"叫到号请及时到窗口，{when_zh}；{then_zh}", f"{when_en}, your number is marked missed; {then_en}"


def left_words(recalls_left: int, wait_s: int, zh: bool) -> str:
    """What staff must still do before the rule allows a no-show: 还需重呼1次，并再等45秒."""
    if zh:
        parts = ([f"重呼{recalls_left}次"] if recalls_left else []) + ([f"再等{span(wait_s, True)}"] if wait_s else [])
        return "还需" + "，并".join(parts)
    parts = ([f"recall it {_times(recalls_left)} more"] if recalls_left else []) + (
        [f"wait {span(wait_s, False)} more"] if wait_s else [])
    return " and ".join(parts)
