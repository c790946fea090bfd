"""The checks of each operation that need only the configuration and the request, not the live state.

The model (``model.py``) and the engine (``engine.py``) both run them before anything else, so a request
refused here is refused the same way by both, before a ticket id is drawn or a script runs.
"""

from __future__ import annotations

import re

from . import errors, policy
from .config import HallConfig, Service

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # as the API refuses in every text (floor/hall/schemas.py)


def check_issue(
    hall: HallConfig, service: str, channel: str, priority: str | None, *, item: str | None = None,
    green_reason: str | None = None, holder: str | None = None,
) -> Service:
    """The checks of an issue that need only the configuration; the service issued for."""
    svc = hall.service(service)
    if svc is None:
        raise errors.UnknownService(service=service)
    if channel not in policy.CHANNELS:
        raise errors.InvalidRequest(why=f"channel must be one of {', '.join(policy.CHANNELS)}",
                                    why_zh=f"取号渠道须为 {'、'.join(policy.CHANNELS)} 之一")
    if priority is not None and priority not in policy.PRIORITIES:
        raise errors.InvalidRequest(why=f"priority must be empty or one of {', '.join(policy.PRIORITIES)}",
                                    why_zh=f"优先类别须为空或 {'、'.join(policy.PRIORITIES)} 之一")
    if item is not None and svc.item(item) is None:
        raise errors.UnknownItem(item=item, service=service)
    if green_reason is not None:
        if green_reason not in policy.GREEN_REASONS:
            raise errors.InvalidRequest(
                why=f"green_reason must be one of {', '.join(policy.GREEN_REASONS)}",
                why_zh=f"绿色通道事由须为 {'、'.join(policy.GREEN_REASONS)} 之一")
        if priority != "green":
            raise errors.InvalidRequest(why="a green-channel reason goes only with priority green",
                                        why_zh="只有绿色通道（priority 为 green）的号票才填写绿色通道事由")
    if holder is not None and not 0 < len(holder) <= policy.HOLDER_MAX:
        raise errors.InvalidRequest(why=f"holder must be a masked name of 1-{policy.HOLDER_MAX} characters",
                                    why_zh=f"持号人须为 1-{policy.HOLDER_MAX} 个字的脱敏姓名")
    return svc


def check_rating(score: int, source: str, comment: str | None) -> None:
    """The checks of a rating that need nothing but its arguments."""
    if isinstance(score, bool) or score not in policy.SCORES:
        raise errors.InvalidRequest(why="score must be 1 (very dissatisfied) to 5 (very satisfied)",
                                    why_zh="评分须为 1（非常不满意）到 5（非常满意）")
    if source not in policy.RATING_SOURCES:
        raise errors.InvalidRequest(why=f"source must be one of {', '.join(policy.RATING_SOURCES)}",
                                    why_zh=f"评价来源须为 {'、'.join(policy.RATING_SOURCES)} 之一")
    if comment is not None:
        if len(comment) > policy.COMMENT_MAX:
            raise errors.InvalidRequest(why=f"a comment has at most {policy.COMMENT_MAX} characters",
                                        why_zh=f"评价留言最多 {policy.COMMENT_MAX} 个字")
        if CONTROL.search(comment):
            raise errors.InvalidRequest(why="a comment must not contain control characters (line breaks, tabs)",
                                        why_zh="评价留言不能包含换行、制表符等控制字符")


def check_outcome(outcome: str) -> None:
    if outcome not in policy.OUTCOMES:
        raise errors.InvalidRequest(why=f"outcome must be one of {', '.join(policy.OUTCOMES)}",
                                    why_zh=f"办结结果须为 {'、'.join(policy.OUTCOMES)} 之一")


def check_transfer_target(hall: HallConfig, window_id: str, to_service: str | None, to_window: str | None) -> None:
    """The checks of a transfer that need only the configuration."""
    if (to_service is None) == (to_window is None):
        raise errors.InvalidRequest(why="name either a service or a window to transfer to",
                                    why_zh="转办须指定一个业务或一个窗口，二者选一")
    if to_service is not None and hall.service(to_service) is None:
        raise errors.UnknownService(service=to_service)
    if to_window is not None:
        if hall.window(to_window) is None:
            raise errors.UnknownWindow(window=to_window)
        if to_window == window_id:
            raise errors.InvalidRequest(why="a ticket cannot be transferred to the window it is at",
                                        why_zh="不能转到当前所在的窗口")


def check_archived(number: str, day: str) -> None:
    """What a late rating says of a ticket from the record must look like one."""
    if not (len(day) == 8 and day.isascii() and day.isdigit()):
        raise errors.InvalidRequest(why="day must be a business day as YYYYMMDD", why_zh="day 须为 YYYYMMDD 格式的日期")
    if not 0 < len(number) <= 16:
        raise errors.InvalidRequest(why="number must be a ticket number of 1-16 characters",
                                    why_zh="号码须为 1-16 个字符")


def check_skills(hall: HallConfig, window_id: str, services: list[str], primary: list[str],
                 items: list[str] | None = None) -> None:
    if not services:
        raise errors.InvalidRequest(why=f"window {window_id} must serve at least one service",
                                    why_zh=f"{window_id}号窗口至少要办理一项业务")
    for s in services:
        if hall.service(s) is None:
            raise errors.UnknownService(service=s)
    stray = sorted(set(primary) - set(services))
    if stray:
        raise errors.InvalidRequest(why=f"primary services {', '.join(stray)} are not among the window's services",
                                    why_zh=f"优先业务 {'、'.join(stray)} 不在该窗口的业务范围内")
    if len(set(services)) != len(services):
        raise errors.InvalidRequest(why="a service is listed twice", why_zh="业务重复列出")
    for s in services:
        bundle = hall.service(s)
        missing = [m for m in bundle.bundle if m not in services] if bundle else []
        if missing:  # a bundle (一件事) is served whole at one window
            raise errors.InvalidRequest(
                why=f"window {window_id} can take bundle {s} only if it also serves {', '.join(missing)}",
                why_zh=f"{window_id}号窗口须同时办理 {'、'.join(missing)}，才能受理一件事 {s}")
    for code in items or []:
        owner = hall.item_service(code)
        if owner is None:
            raise errors.InvalidRequest(why=f"there is no sub-item {code[:40]!r} in this hall",
                                        why_zh=f"本大厅没有事项 {code[:40]!r}")
        if owner.code not in services:
            raise errors.InvalidRequest(
                why=f"sub-item {code} belongs to {owner.code}, which window {window_id} does not serve",
                why_zh=f"事项 {code} 属于{owner.name_zh}业务，{window_id}号窗口未办理该业务")
    if items is not None and len(set(items)) != len(items):
        raise errors.InvalidRequest(why="a sub-item is listed twice", why_zh="事项重复列出")
