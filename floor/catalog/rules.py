"""受理事典: a hall's service catalog, read from its configuration, and the 一次性告知 notice of a sub-item or bundle.

Pure: the hall's ``HallConfig`` and the day in, plain models out, no I/O. The guide desk shows the catalog as a
materials checklist; the notice is what the guide prints when something is missing, so the citizen comes back once
with everything (一次性告知). Windows here are the configured ones: a manager's change of skills during the day moves
calls, not the printed catalog.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from floor.catalog.search_terms import search_terms
from queue_engine import policy
from queue_engine.config import HallConfig, Material, Service, ServiceItem, Window

Lang = Literal["zh", "en"]


class MaterialOut(BaseModel):
    name: str
    copies: int
    original: bool
    note: str


class BundleMaterialOut(MaterialOut):
    items: list[str]  # the member sub-items that ask for it: a bundle's union names where each comes from
    choice: int | None = Field(None, description="The bundle's alternatives it belongs to (an index into "
                                                 "alternatives): only some of them ask for it. None: always needed.")
    options: list[str] = Field(default_factory=list, description="Which sub-items of that choice ask for it.")


class ItemOut(BaseModel):
    code: str
    service: str
    service_name: str
    service_name_en: str
    name: str
    name_en: str
    pinyin: str  # of the Chinese name: a sub-item is found by its name as its service is (search_terms)
    initials: str
    materials: list[MaterialOut]
    forms: list[str]
    legal_basis: list[str]
    promised_days: int
    immediate: bool  # 即办件; otherwise a 承诺件 of promised_days working days
    promised: str
    promised_en: str
    due: date  # the day it is promised for if accepted on the catalog's day
    handling_s: int
    windows: list[str]


class ServiceOut(BaseModel):
    code: str
    letter: str
    name: str
    name_en: str
    pinyin: str
    initials: str
    is_bundle: bool
    target_wait_s: int
    handling_s: int
    items: list[ItemOut]
    windows: list[str]
    in_bundles: list[str]


class MemberOut(BaseModel):
    code: str
    name: str
    name_en: str
    items: list[str]


class BundleOut(BaseModel):
    code: str
    letter: str
    name: str
    name_en: str
    members: list[MemberOut]
    items: list[str]
    alternatives: list[list[str]] = Field(
        default_factory=list, description="Groups of sub-items of which a citizen needs one (以下二选一): the "
                                          "sub-items of a member service that has several.")
    materials: list[BundleMaterialOut]  # always-needed ones first, then each choice's, option by option
    forms: list[str]
    legal_basis: list[str]
    promised_days: int  # the longest of its members' sub-items
    promised: str
    promised_en: str
    due: date
    windows: list[str]


class WindowSkillsOut(BaseModel):
    id: str
    name: str
    kind: str
    services: list[str]
    items: list[str]  # every sub-item it serves, its sub-item skills applied


class CatalogOut(BaseModel):
    hall: str
    name: str
    day: date
    services: list[ServiceOut]  # every service, bundles included, in the hall's order
    bundles: list[BundleOut]
    windows: list[WindowSkillsOut]


class NoticeMaterialOut(MaterialOut):
    number: int
    copies_text: str  # "2 份", "仅验原件", as the paper says it
    for_items: list[str]  # names of the sub-items that ask for it (a bundle's notice)
    choice: int | None = None  # a bundle's: the choice it belongs to (an index into choices), None if always needed
    options: list[str] = Field(default_factory=list)  # the sub-items of that choice that ask for it


class NoticeOptionOut(BaseModel):
    item: str
    item_name: str
    materials: list[int]  # the numbers of the materials this option asks for


class NoticeChoiceOut(BaseModel):
    """Sub-items of a bundle of which the citizen needs one, with the materials each asks for: 以下二选一."""

    label: str  # "以下二选一", "Choose one of these 2"
    options: list[NoticeOptionOut]


class NoticePartOut(BaseModel):
    service: str
    service_name: str
    item: str | None
    item_name: str | None
    promised: str


class NoticeOut(BaseModel):
    hall: str
    hall_name: str
    day: date
    lang: Lang
    kind: Literal["item", "bundle"]
    code: str
    title: str
    service: str
    service_name: str
    materials: list[NoticeMaterialOut]
    forms: list[str]
    legal_basis: list[str]
    promised_days: int
    promised: str
    due: date
    windows: list[str]
    parts: list[NoticePartOut]  # a bundle's member services and their sub-items
    choices: list[NoticeChoiceOut] = Field(default_factory=list)  # a bundle's alternatives, each listed apart
    notes: str = ""  # what else the hall tells everyone who comes for the sub-item (ServiceItem.notes)
    text: str  # the whole notice as plain text, e.g. for a message to the citizen


class ItemDetailOut(ItemOut):
    notice: NoticeOut


class BundleDetailOut(BundleOut):
    notice: NoticeOut


# -- wording -------------------------------------------------------------------------------------------------------
def promised_text(days: int, lang: Lang = "zh") -> str:
    """限时办结 as a hall says it: 即办件 (settled on the spot) or 承诺件 with its working days."""
    if lang == "en":
        if days == 0:
            return "On the spot (即办件)"
        return f"Within {days} working day{'s' if days != 1 else ''} (承诺件)"
    return "即办件（当场办结）" if days == 0 else f"承诺件（{days} 个工作日）"


def copies_text(copies: int, original: bool, lang: Lang = "zh") -> str:
    """How many copies to hand in; 0 copies of a document whose original is shown reads 仅验原件."""
    if lang == "en":
        if copies == 0:
            return "original shown only" if original else "—"
        return f"{copies} cop{'ies' if copies != 1 else 'y'}"
    if copies == 0:
        return "仅验原件" if original else "—"
    return f"{copies} 份"


# -- who serves what -----------------------------------------------------------------------------------------------
def window_serves_item(window: Window, service: Service, item: str) -> bool:
    """Sub-item skills (config.Window.items): a window naming some of a service's sub-items serves only those.
    The rule is the calling policy's (rule 6), so the catalog never tells a citizen otherwise than call-next does."""
    if service.code not in window.services:
        return False
    restricted = policy.restricted_services(window.items, {i.code: service.code for i in service.items})
    return policy.serves_item(service.code, item, window.items, restricted)


def _windows_for_service(hall: HallConfig, code: str) -> list[str]:
    return [w.id for w in hall.windows if code in w.services]


def _windows_for_item(hall: HallConfig, service: Service, item: str) -> list[str]:
    return [w.id for w in hall.windows if window_serves_item(w, service, item)]


# -- the catalog ---------------------------------------------------------------------------------------------------
def _material(m: Material) -> MaterialOut:
    return MaterialOut(name=m.name, copies=m.copies, original=m.original, note=m.note)


def _item(hall: HallConfig, service: Service, item: ServiceItem, day: date) -> ItemOut:
    terms = search_terms(item.name_zh)
    return ItemOut(
        code=item.code, service=service.code, service_name=service.name_zh, service_name_en=service.name_en,
        name=item.name_zh, name_en=item.name_en or item.name_zh, pinyin=terms["pinyin"], initials=terms["initials"],
        materials=[_material(m) for m in item.materials],
        forms=list(item.forms), legal_basis=list(item.legal_basis), promised_days=item.promised_days,
        immediate=item.promised_days == 0, promised=promised_text(item.promised_days),
        promised_en=promised_text(item.promised_days, "en"), due=hall.add_working_days(day, item.promised_days),
        handling_s=item.handling_s or service.handling_s, windows=_windows_for_item(hall, service, item.code))


def item_entry(hall: HallConfig, code: str, day: date) -> ItemOut | None:
    """One sub-item by its code, or None."""
    service = hall.item_service(code)
    item = service.item(code) if service else None
    if service is None or item is None:
        return None
    return _item(hall, service, item, day)


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def bundle_alternatives(hall: HallConfig, bundle: Service) -> list[list[str]]:
    """The sub-items of a bundle of which a citizen needs only one: those of a member service that has several. A
    bundle (一件事) takes one matter of each member: a restaurant opens as a 个体工商户 or as a company, not both."""
    return [[i.code for i in member.items] for code in bundle.bundle
            if (member := hall.service(code)) is not None and len(member.items) > 1]


def _choice_of(items: list[str], choices: list[list[str]]) -> tuple[int, list[str]] | None:
    """The choice a document belongs to, with the options asking for it; None when it is needed whatever is
    chosen: a sub-item outside every choice asks for it, or every option of a choice does. (A document asked by
    options of two choices goes with the first.)"""
    choice_of = {code: n for n, group in enumerate(choices) for code in group}
    if any(code not in choice_of for code in items):
        return None
    touched = sorted({choice_of[code] for code in items})
    if any(set(choices[n]) <= set(items) for n in touched):
        return None
    n = touched[0]
    return n, [code for code in choices[n] if code in items]


def bundle_materials(hall: HallConfig, bundle: Service) -> list[BundleMaterialOut]:
    """The union of the members' materials, one line per document (by name): the most copies any sub-item asks
    for, the original shown if any asks for it, every distinct note, and which sub-items ask for it. Documents
    every citizen needs come first, then those of each choice of sub-items (``bundle_alternatives``), option by
    option, each marked with its choice and options."""
    merged: dict[str, BundleMaterialOut] = {}
    for code in bundle.bundle:
        member = hall.service(code)
        for item in member.items if member else ():
            for m in item.materials:
                seen = merged.get(m.name)
                if seen is None:
                    merged[m.name] = BundleMaterialOut(name=m.name, copies=m.copies, original=m.original,
                                                       note=m.note, items=[item.code])
                    continue
                seen.copies = max(seen.copies, m.copies)
                seen.original = seen.original or m.original
                seen.note = "；".join(_unique([n for n in (seen.note, m.note) if n]))
                seen.items = _unique([*seen.items, item.code])
    choices = bundle_alternatives(hall, bundle)
    for line in merged.values():
        chosen = _choice_of(line.items, choices)
        if chosen is not None:
            line.choice, line.options = chosen
    lines = list(merged.values())
    # Numbered in this order on the desk's checklist and the notice: the choices' documents together, last.
    order = {code: k for group in choices for k, code in enumerate(group)}
    return sorted(lines, key=lambda m: (-1, 0) if m.choice is None else (m.choice, order[m.options[0]]))


def _member_items(hall: HallConfig, bundle: Service) -> list[tuple[Service, ServiceItem | None]]:
    """Each member service with each of its sub-items; a member without sub-items once, with None."""
    parts: list[tuple[Service, ServiceItem | None]] = []
    for code in bundle.bundle:
        member = hall.service(code)
        if member is not None:
            parts.extend([(member, item) for item in member.items] or [(member, None)])
    return parts


def bundle_entry(hall: HallConfig, code: str, day: date) -> BundleOut | None:
    """One theme bundle (一件事) by its service code, or None when the code is not a bundle."""
    bundle = hall.service(code)
    if bundle is None or not bundle.is_bundle:
        return None
    members = [m for c in bundle.bundle if (m := hall.service(c)) is not None]
    items = [item for _, item in _member_items(hall, bundle) if item is not None]
    days = max((i.promised_days for i in items), default=0)
    return BundleOut(
        code=bundle.code, letter=bundle.letter, name=bundle.name_zh, name_en=bundle.name_en,
        members=[MemberOut(code=m.code, name=m.name_zh, name_en=m.name_en, items=[i.code for i in m.items])
                 for m in members],
        items=[i.code for i in items], alternatives=bundle_alternatives(hall, bundle),
        materials=bundle_materials(hall, bundle),
        forms=_unique([f for i in items for f in i.forms]),
        legal_basis=_unique([b for i in items for b in i.legal_basis]),
        promised_days=days, promised=promised_text(days), promised_en=promised_text(days, "en"),
        due=hall.add_working_days(day, days), windows=_windows_for_service(hall, bundle.code))


def _service(hall: HallConfig, service: Service, day: date) -> ServiceOut:
    terms = search_terms(service.name_zh)
    return ServiceOut(
        code=service.code, letter=service.letter, name=service.name_zh, name_en=service.name_en,
        pinyin=terms["pinyin"], initials=terms["initials"], is_bundle=service.is_bundle,
        target_wait_s=service.target_wait_s, handling_s=service.handling_s,
        items=[_item(hall, service, i, day) for i in service.items],
        windows=_windows_for_service(hall, service.code),
        in_bundles=[s.code for s in hall.services if service.code in s.bundle])


def _window(hall: HallConfig, window: Window) -> WindowSkillsOut:
    items = [i.code for code in window.services if (s := hall.service(code)) is not None
             for i in s.items if window_serves_item(window, s, i.code)]
    return WindowSkillsOut(id=window.id, name=window.name, kind=window.kind, services=list(window.services),
                           items=items)


def build_catalog(hall: HallConfig, day: date) -> CatalogOut:
    """The whole catalog as of ``day`` (promised dates count working days from it)."""
    bundles = [b for s in hall.services if (b := bundle_entry(hall, s.code, day)) is not None]
    return CatalogOut(hall=hall.id, name=hall.name, day=day, services=[_service(hall, s, day) for s in hall.services],
                      bundles=bundles, windows=[_window(hall, w) for w in hall.windows])


# -- the 一次性告知 notice -----------------------------------------------------------------------------------------
def _name(zh: str, en: str, lang: Lang) -> str:
    return (en or zh) if lang == "en" else zh


def _window_names(hall: HallConfig, ids: list[str]) -> list[str]:
    return [w.name for i in ids if (w := hall.window(i)) is not None]


def item_notice(hall: HallConfig, code: str, day: date, lang: Lang = "zh") -> NoticeOut | None:
    """The notice of one sub-item, or None for an unknown code."""
    service = hall.item_service(code)
    item = service.item(code) if service else None
    if service is None or item is None:
        return None
    materials = [NoticeMaterialOut(number=n, name=m.name, copies=m.copies, original=m.original, note=m.note,
                                   copies_text=copies_text(m.copies, m.original, lang), for_items=[])
                 for n, m in enumerate(item.materials, 1)]
    notice = NoticeOut(
        hall=hall.id, hall_name=hall.name, day=day, lang=lang, kind="item", code=item.code,
        title=_name(item.name_zh, item.name_en, lang), service=service.code,
        service_name=_name(service.name_zh, service.name_en, lang), materials=materials, forms=list(item.forms),
        legal_basis=list(item.legal_basis), promised_days=item.promised_days,
        promised=promised_text(item.promised_days, lang), due=hall.add_working_days(day, item.promised_days),
        windows=_window_names(hall, _windows_for_item(hall, service, item.code)), parts=[], notes=item.notes,
        text="")
    notice.text = notice_text(notice)
    return notice


def bundle_notice(hall: HallConfig, code: str, day: date, lang: Lang = "zh") -> NoticeOut | None:
    """The notice of a theme bundle (one ticket, every member's materials), or None when ``code`` is no bundle."""
    entry = bundle_entry(hall, code, day)
    bundle = hall.service(code)
    if entry is None or bundle is None:
        return None
    names = {i.code: _name(i.name_zh, i.name_en, lang) for _, i in _member_items(hall, bundle) if i is not None}
    materials = []
    for n, m in enumerate(entry.materials, 1):
        materials.append(NoticeMaterialOut(number=n, name=m.name, copies=m.copies, original=m.original, note=m.note,
                                           copies_text=copies_text(m.copies, m.original, lang),
                                           for_items=[names[i] for i in m.items], choice=m.choice,
                                           options=list(m.options)))
    choices = [NoticeChoiceOut(label=choice_label(len(group), lang), options=[
        NoticeOptionOut(item=code, item_name=names[code],
                        materials=[m.number for m in materials if m.choice == n and code in m.options])
        for code in group]) for n, group in enumerate(entry.alternatives)]
    parts = [NoticePartOut(service=s.code, service_name=_name(s.name_zh, s.name_en, lang),
                           item=i.code if i else None, item_name=names[i.code] if i else None,
                           promised=promised_text(i.promised_days, lang) if i else "")
             for s, i in _member_items(hall, bundle)]
    notice = NoticeOut(
        hall=hall.id, hall_name=hall.name, day=day, lang=lang, kind="bundle", code=bundle.code,
        title=_name(bundle.name_zh, bundle.name_en, lang), service=bundle.code,
        service_name=_name(bundle.name_zh, bundle.name_en, lang), materials=materials, forms=entry.forms,
        legal_basis=entry.legal_basis, promised_days=entry.promised_days,
        promised=promised_text(entry.promised_days, lang), due=entry.due,
        windows=_window_names(hall, entry.windows), parts=parts, choices=choices, text="")
    notice.text = notice_text(notice)
    return notice


_CHINESE_NUMBERS = "零一二三四五六七八九十"


def choice_label(options: int, lang: Lang = "zh") -> str:
    """以下二选一 (三选一 …): how a Chinese office heads documents of which one set is needed."""
    if lang == "en":
        return f"Choose one of these {options}"
    count = _CHINESE_NUMBERS[options] if options <= 10 else str(options)
    return f"以下{count}选一"


_WORDS: dict[str, tuple[str, str]] = {
    "title": ("一次性告知书", "One-time full notice"),
    "item": ("办理事项", "Matter"),
    "bundle": ("主题联办（一件事）", "Theme bundle (one ticket)"),
    "parts": ("包含事项", "It covers"),
    "promised": ("办理时限", "Time limit"),
    "due": ("如今日受理，预计办结日期", "If accepted today, settled by"),
    "materials": ("申请材料", "Documents to bring"),
    "none": ("无需提交材料", "No documents needed"),
    "original": ("验原件", "original shown"),
    "for": ("用于", "for"),
    "one_set": ("备齐其中一组即可", "one set is enough"),
    "forms": ("申请表格", "Forms"),
    "notes": ("其他告知事项", "Please also note"),
    "basis": ("设定依据", "Legal basis"),
    "windows": ("办理窗口", "Windows"),
    "closing": ("以上为办理本事项所需的全部材料，一次性告知。请备齐后再来办理，无需再次咨询。",
                "These are all the documents this matter needs, told at once. Please come back with all of them."),
    "date": ("告知日期", "Date"),
    "sign": ("导办人员（签名/工号）", "Guide (signature / staff number)"),
}


def _word(key: str, lang: Lang) -> str:
    zh, en = _WORDS[key]
    return en if lang == "en" else zh


def notice_text(n: NoticeOut) -> str:
    """The notice as plain text, in its language: what the printed page shows, line by line."""
    lang: Lang = n.lang
    colon, sep = (": ", ", ") if lang == "en" else ("：", "、")
    lines = [n.hall_name, _word("title", lang)]
    if n.kind == "bundle":
        lines.append(f"{_word('bundle', lang)}{colon}{n.title}")
        grouped: dict[str, list[str]] = {}
        for p in n.parts:
            grouped.setdefault(p.service_name, []).extend([p.item_name] if p.item_name else [])
        parts = [f"{name}（{sep.join(items)}）" if items and lang == "zh" else
                 f"{name} ({sep.join(items)})" if items else name for name, items in grouped.items()]
        lines.append(f"{_word('parts', lang)}{colon}{'；'.join(parts) if lang == 'zh' else '; '.join(parts)}")
    else:
        lines.append(f"{_word('item', lang)}{colon}{n.title}（{n.service_name}）" if lang == "zh" else
                     f"{_word('item', lang)}{colon}{n.title} ({n.service_name})")
    lines.append(f"{_word('promised', lang)}{colon}{n.promised}")
    if n.promised_days:
        lines.append(f"{_word('due', lang)}{colon}{n.due.isoformat()}")
    lines.append(f"{_word('materials', lang)}{colon}" if n.materials else
                 f"{_word('materials', lang)}{colon}{_word('none', lang)}")
    def line(m: NoticeMaterialOut) -> str:
        extras = [_word("original", lang)] if m.original and m.copies else []
        extras += [m.note] if m.note else []
        if m.for_items and m.choice is None:  # a choice's documents stand under the sub-item they are for
            extras += [f"{_word('for', lang)}{'' if lang == 'zh' else ' '}{sep.join(m.for_items)}"]
        tail = f"（{'；'.join(extras)}）" if extras and lang == "zh" else f" ({'; '.join(extras)})" if extras else ""
        return f"{m.number}. {m.name} {m.copies_text}{tail}"

    numbered = {m.number: m for m in n.materials}
    lines += [line(m) for m in n.materials if m.choice is None]
    for choice in n.choices:
        lines.append(f"{choice.label}（{_word('one_set', lang)}）：" if lang == "zh" else
                     f"{choice.label} ({_word('one_set', lang)}):")
        for k, option in enumerate(choice.options):
            head = f"（{_CHINESE_NUMBERS[k + 1]}）" if lang == "zh" and k < 10 else f"({chr(ord('a') + k)}) "
            lines.append(f"{head}{option.item_name}{colon}")
            lines += [f"  {line(numbered[number])}" for number in option.materials]
    if n.forms:
        lines.append(f"{_word('forms', lang)}{colon}{sep.join(n.forms)}")
    if n.legal_basis:
        lines.append(f"{_word('basis', lang)}{colon}{sep.join(n.legal_basis)}")
    if n.windows:
        lines.append(f"{_word('windows', lang)}{colon}{sep.join(n.windows)}")
    if n.notes:
        lines.append(f"{_word('notes', lang)}{colon}{n.notes}")
    lines += [_word("closing", lang), f"{_word('date', lang)}{colon}{n.day.isoformat()}",
              f"{_word('sign', lang)}{colon}____________"]
    return "\n".join(line.rstrip() for line in lines)


def item_detail(hall: HallConfig, code: str, day: date, lang: Lang = "zh") -> ItemDetailOut | None:
    """One sub-item with its notice in ``lang``, or None for an unknown code."""
    entry, notice = item_entry(hall, code, day), item_notice(hall, code, day, lang)
    if entry is None or notice is None:
        return None
    return ItemDetailOut(**entry.model_dump(), notice=notice)


def bundle_detail(hall: HallConfig, code: str, day: date, lang: Lang = "zh") -> BundleDetailOut | None:
    """One theme bundle with its notice in ``lang``, or None when ``code`` is not a bundle."""
    entry, notice = bundle_entry(hall, code, day), bundle_notice(hall, code, day, lang)
    if entry is None or notice is None:
        return None
    return BundleDetailOut(**entry.model_dump(), notice=notice)
