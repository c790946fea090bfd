"""The hall's set-up changes while it runs (``queue_engine/reconfig.py``, ``reconfigure.lua``): on the model and on
the engine alike. Demo hall: windows 1-12; SOC (A) and others; window 2 serves SOC first."""

from __future__ import annotations

from typing import Any

import pytest

from queue_engine import errors
from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig
from queue_engine.model import HallModel
from tests.drivers import called_id


def changed(hall: HallConfig, **update: Any) -> HallConfig:
    return HallConfig.model_validate({**hall.model_dump(mode="json"), **update})


def with_service(hall: HallConfig, code: str = "PET", letter: str = "P") -> HallConfig:
    services = [*hall.model_dump(mode="json")["services"],
                {"code": code, "letter": letter, "name_zh": "宠物登记", "name_en": "Pet registration"}]
    return changed(hall, services=services)


def with_window(hall: HallConfig, window: dict[str, Any]) -> HallConfig:
    return changed(hall, windows=[*hall.model_dump(mode="json")["windows"], window])


def without(hall: HallConfig, *, window: str | None = None, service: str | None = None) -> HallConfig:
    data = hall.model_dump(mode="json")
    if window is not None:
        data["windows"] = [w for w in data["windows"] if w["id"] != window]
    if service is not None:
        data["services"] = [s for s in data["services"] if s["code"] != service]
        data["appointments"]["capacities"].pop(service, None)
        for w in data["windows"]:
            w["services"] = [s for s in w["services"] if s != service]
            w["primary"] = [s for s in w["primary"] if s != service]
    return HallConfig.model_validate(data)


def skills_of(hall: HallConfig, window: str, services: list[str], primary: list[str]) -> HallConfig:
    data = hall.model_dump(mode="json")
    for w in data["windows"]:
        if w["id"] == window:
            w.update(services=services, primary=primary, items=[])
    return HallConfig.model_validate(data)


async def test_a_new_window_opens_and_calls_a_new_service_at_once(impl: Any, demo_hall: HallConfig) -> None:
    new = with_window(with_service(demo_hall), {"id": "13", "name": "13号窗口", "services": ["PET"]})
    await impl.reconfigure(new, 0)
    await impl.open_window("13")
    pet = await impl.issue("PET")
    assert pet.ticket.number == "P001"
    assert await called_id(impl, "13") == pet.ticket.id
    configured = [e for e in await impl.events() if e.type == "hall.configured"]
    assert [e.data["version"] for e in configured] == [1]
    assert HallConfig.model_validate(configured[0].data["config"]) == new


async def test_a_change_from_an_old_version_is_refused(impl: Any, demo_hall: HallConfig) -> None:
    await impl.reconfigure(with_service(demo_hall), 0)
    with pytest.raises(errors.SetupChanged) as refused:
        await impl.reconfigure(with_service(demo_hall, "DOG", "Q"), 0)
    assert refused.value.details == {"version": 1}
    with pytest.raises(errors.UnknownService):
        await impl.issue("DOG")


async def test_a_service_with_waiting_tickets_cannot_be_removed(impl: Any, demo_hall: HallConfig) -> None:
    await impl.open_window("1")
    waiting = await impl.issue("INFO")
    with pytest.raises(errors.ServiceHasTickets) as refused:
        await impl.reconfigure(without(demo_hall, service="INFO"), 0)
    assert refused.value.details["number"] == waiting.ticket.number
    assert "INFO" in (await impl.window("1")).services  # nothing changed
    await impl.cancel(waiting.ticket.id)
    await impl.reconfigure(without(demo_hall, service="INFO"), 0)
    assert "INFO" not in (await impl.window("1")).services
    with pytest.raises(errors.UnknownService):
        await impl.issue("INFO")


async def test_removing_a_service_takes_it_from_skills_moved_during_the_day(impl: Any, demo_hall: HallConfig) -> None:
    await impl.set_services("9", ["PROP", "INFO"], ["INFO"])  # a manager's move, not in the configuration
    await impl.reconfigure(without(demo_hall, service="INFO"), 0)
    moved = await impl.window("9")
    assert (moved.services, moved.primary) == (["PROP"], [])


async def test_an_open_window_cannot_be_removed(impl: Any, demo_hall: HallConfig) -> None:
    await impl.open_window("12")
    with pytest.raises(errors.WindowInUse):
        await impl.reconfigure(without(demo_hall, window="12"), 0)
    await impl.close_window("12")
    await impl.reconfigure(without(demo_hall, window="12"), 0)
    assert "12" not in [w["id"] for w in (await impl.snapshot())["windows"]]
    with pytest.raises(errors.UnknownWindow):
        await impl.open_window("12")


async def test_a_window_holding_transferred_tickets_cannot_be_removed(impl: Any, demo_hall: HallConfig) -> None:
    await impl.open_window("1")
    await impl.open_window("12")
    issued = await impl.issue("INFO")
    assert await impl.call_next("1") is not None
    await impl.transfer("1", to_window="12", reason="请到12号窗口领证")
    await impl.close_window("12")
    with pytest.raises(errors.WindowHasTickets) as refused:
        await impl.reconfigure(without(demo_hall, window="12"), 0)
    assert refused.value.details == {"window": "12", "count": 1}
    assert (await impl.ticket(issued.ticket.id)).ticket.status == "waiting"


async def test_new_skills_in_the_configuration_apply_to_the_next_call(
    impl: Any, demo_hall: HallConfig, clock: ManualClock
) -> None:
    await impl.open_window("2")
    soc = await impl.issue("SOC")
    clock.advance(5)
    huk = await impl.issue("HUK")
    await impl.reconfigure(skills_of(demo_hall, "2", ["HUK"], ["HUK"]), 0)
    assert await called_id(impl, "2") == huk.ticket.id
    assert await called_id(impl, "2") is None  # SOC is no longer window 2's
    assert (await impl.ticket(soc.ticket.id)).ticket.status == "waiting"


async def test_a_rename_leaves_skills_moved_during_the_day(impl: Any, demo_hall: HallConfig) -> None:
    await impl.set_services("2", ["TAX"], ["TAX"])
    await impl.reconfigure(changed(demo_hall, name="示范县政务服务中心（新址）"), 0)
    assert (await impl.window("2")).services == ["TAX"]


async def test_a_day_with_a_removed_window_replays_to_the_same_hall(clock: ManualClock, demo_hall: HallConfig) -> None:
    model = HallModel(demo_hall)
    now = int(clock() * 1000)
    model.open_window(now, "12")
    model.close_window(now + 1, "12")
    new = with_window(without(demo_hall, window="12"), {"id": "13", "name": "13号窗口", "services": ["INFO"]})
    model.reconfigure(now + 2, new, 0)
    model.open_window(now + 3, "13")
    replayed = HallModel.replay(new, model.events)
    assert replayed.windows == model.windows
    assert replayed.able == model.able
    assert replayed.config_version == 1
