"""The printed 一次性告知书 of a bundle, in Chromium: documents of which one set is enough (以下二选一) are listed
apart, option by option, and the citizen is told what they lack counting only the option that lacks the fewest."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.pages.conftest import Hall

A4 = (900, 1200)


def notice(hall: Hall, missing: str) -> Page:
    page = hall.open_page(f"/halls/{{hall}}/notice?service=RESTO&missing={missing}", role="guide", size=A4)
    expect(page.locator("body")).to_have_class("notice-print ready")
    return page


def test_a_bundles_alternatives_are_one_choice_and_counted_so(hall: Hall) -> None:
    # Nothing brought: the three documents every restaurant needs, and the two of the lighter option.
    page = notice(hall, "1,2,3,4,5,6,7,8,9")
    note = page.locator("#missing-note")
    expect(note).to_have_attribute("data-count", "5")
    expect(note).to_contain_text("您本次尚缺 5 项材料")
    expect(note).to_contain_text("备齐其中一组即可")
    head = page.locator("#material-rows tr.choice-head")
    expect(head).to_have_text("以下二选一（备齐其中一组即可）")
    indiv = page.locator('#material-rows tr.option-head[data-option="BIZ-INDIV"]')
    expect(indiv).to_contain_text("（一）个体工商户设立登记")
    expect(indiv.locator(".lack")).to_have_text("尚缺 2 项")
    expect(page.locator('#material-rows tr.option-head[data-option="BIZ-LLC"] .lack')).to_have_text("尚缺 4 项")
    # The choice's documents stand under their option, in the notice's numbering.
    numbers = page.locator("#material-rows tr[data-number]").evaluate_all(
        "rows => rows.map(r => r.dataset.number)")
    assert numbers == [str(n) for n in range(1, 10)]
    rows = page.locator("#material-rows tr").evaluate_all(
        "rows => rows.map(r => r.classList.contains('option-head') ? r.dataset.option : r.dataset.number ?? 'head')")
    assert rows == ["1", "2", "3", "head", "BIZ-INDIV", "4", "5", "BIZ-LLC", "6", "7", "8", "9"]

    # A sole proprietor with their papers: only the licence is missing; the company's papers are not asked for.
    page = notice(hall, "1,6,7,8,9")
    expect(page.locator("#missing-note")).to_have_attribute("data-count", "1")
    expect(page.locator('#material-rows tr.option-head[data-option="BIZ-INDIV"] .lack')).to_have_count(0)

    english = hall.open_page("/halls/{hall}/notice?service=RESTO&missing=4", role="guide", size=A4, lang="en")
    expect(english.locator("body")).to_have_class("notice-print ready")
    expect(english.locator("#material-rows tr.choice-head")).to_have_text(
        "Choose one of these 2 (one set is enough)")
    expect(english.locator("#missing-note")).to_have_attribute("data-count", "0")  # the company's set is complete
    expect(english.locator("#missing-note")).to_be_hidden()
