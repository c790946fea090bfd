"""The alert rules and the dashboard's queries, checked by Prometheus' own promtool: the rules parse, each alert
fires when it should and not before (``deploy/prometheus/hallq-alerts.test.yml``), and every panel's query is valid
PromQL. That each metric they name exists in a real scrape is tests/server/test_metrics.py's."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

PROMTOOL = Path("/usr/bin/promtool")
RULES = ROOT / "deploy" / "prometheus" / "hallq-alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "hallq-alerts.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "hallq-dashboard.json"
# What the alerts must cover (docs/monitoring.md): each by name.
REQUIRED = {"HallqTargetDown", "HallqWaitOverTarget", "HallqArchiveLagging", "HallqRedisErrors"}
# Grafana's variables, as a query would read once Grafana filled them in.
GRAFANA_VARIABLES = {"$hall": ".*", "$level": ".*", "$__range": "6h", "${datasource}": "prometheus"}


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    if not PROMTOOL.exists():
        pytest.fail("promtool is not installed; run scripts/test (scripts/install puts Debian's prometheus in)")
    return subprocess.run([str(PROMTOOL), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def alert_rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"]]


def dashboard_queries() -> list[str]:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queries = [target["expr"] for panel in board["panels"] for target in panel.get("targets", [])]
    queries += [variable["query"]["query"] for variable in board["templating"]["list"] if variable["type"] == "query"]
    return queries


def filled(query: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        query = query.replace(name, value)
    return query


def test_every_alert_is_there_with_a_severity_and_words_for_the_person_paged() -> None:
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} >= REQUIRED
    for rule in rules:
        assert rule["labels"]["severity"] in ("page", "warning"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["description"], rule["alert"]


def test_the_rules_parse() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in checked.stdout


def test_each_alert_fires_when_it_should_and_not_before() -> None:
    tested = promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    tested_alerts = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text(encoding="utf-8")))
    assert tested_alerts == {rule["alert"] for rule in alert_rules()}


def test_every_dashboard_query_is_promql(tmp_path: Path) -> None:
    """promtool parses PromQL in rules: each query, its Grafana variables filled in, as a recording rule."""
    queries = [filled(q) for q in dashboard_queries() if not q.startswith("label_values(")]
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"hallq:dashboard_query_{i}", "expr": q}
                                                         for i, q in enumerate(queries)]}]}
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    checked = promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert len(queries) >= 20

