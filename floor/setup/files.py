"""A hall's set-up as a file: TOML (or YAML) in, TOML out, and a refusal that names the line and the field.

``hallq import`` and the admin page's upload read a file through here, ``hallq serve`` checks its files through
here before it starts, and ``hallq export`` and the download write one.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path

import tomli_w
import yaml

from floor.hall_files import fingerprint
from floor.network.rules import Network, compose
from floor.setup.rules import Json, SetupRefused, checked
from queue_engine.config import HallConfig, Invalid, hall_data

_TOML_AT = re.compile(r"\(at line (\d+), column (\d+)\)")
_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.]+)\s*\]\]?")
_KEY = re.compile(r"^\s*([A-Za-z0-9_]+)\s*=")


def parse(text: str, name: str = "hall.toml") -> Json:
    """A file's contents as data (not checked yet); a syntax error names its line."""
    if name.endswith((".yaml", ".yml")):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            raise _at(name, line, None, f"not valid YAML: {exc}", f"YAML 格式有误：{exc}") from None
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            found = _TOML_AT.search(str(exc))
            line = int(found.group(1)) if found else None
            why = _TOML_AT.sub("", str(exc)).strip()
            raise _at(name, line, None, f"not valid TOML: {why}", f"TOML 格式有误：{why}") from None
    if not isinstance(data, dict):
        raise _at(name, 1, None, "a hall file holds a table of settings", "大厅设置文件须为设置表")
    return data


def check(text: str, name: str = "hall.toml", network: Network | None = None) -> HallConfig:
    """The hall a file describes (its services taken from its county's catalog, with a ``network``), or a refusal
    whose message starts with ``name:line: field``."""
    data = parse(text, name)
    if network is not None:
        try:
            data = compose(data, network)
        except Invalid as refused:
            line = line_of(text, ["authorised"] if "authorised" in str(refused) else ["catalog"])
            raise _at(name, line, None, str(refused), refused.zh) from None
    try:
        return checked(data)
    except SetupRefused as refused:
        first = refused.fields[0] if refused.fields else {"field": "", "problem": refused.en, "problem_zh": refused.zh}
        if not name.endswith((".yaml", ".yml")):
            for f in refused.fields:  # each field with its line
                if f["field"] in ("", "hall"):  # a check of the whole hall: the line it names, if it names one
                    f["line"], named = _named_line(text, f["problem"])
                    f["field"] = named or f["field"]
                else:
                    f["line"] = line_of(text, f["field"].split("."))
        field = first["field"] if first["field"] not in ("", "hall") else None
        where = first.get("line")
        raise _at(name, where if isinstance(where, int) else None, field, first["problem"],
                  first.get("problem_zh", refused.zh), fields=refused.fields) from None


def read(path: str | Path, network: Network | None = None) -> tuple[HallConfig, str]:
    """A hall file from disk, checked, and its fingerprint."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SetupRefused(f"{path}: cannot be read ({exc})", f"{path}：无法读取（{exc}）") from None
    return check(text, str(path), network), fingerprint(text)


def read_all(paths: Sequence[Path], network: Network | None) -> None:
    """Check every hall file as ``hallq serve`` reads them: halls of their own first, then the halls following a
    county's catalog against it (the catalog is the live services of the hall that keeps it). Raises what
    ``read`` raises, naming the file, line and field."""
    catalog_halls = [p for p in paths if "catalog" in hall_data(p)]
    own = {}
    for path in (p for p in paths if p not in catalog_halls):
        config, _ = read(path, network)
        own[config.id] = config.services
    if network is not None and network.catalog_halls:
        network = network.with_catalogs_of(own)
    for path in catalog_halls:
        read(path, network)


def export(config: HallConfig) -> str:
    """The set-up as a TOML file that ``hallq import`` reads back to the same hall."""
    data = config.model_dump(mode="json", exclude_none=True)
    data["hours"] = [f"{s['start'][:5]}-{s['end'][:5]}" for s in data["hours"]]
    head = f"# {config.name}: hallq hall set-up, exported; `hallq import` reads it back.\n"
    return head + tomli_w.dumps(data)


def _at(name: str, line: int | None, field: str | None, en: str, zh: str, fields: list[Json] | None = None
        ) -> SetupRefused:
    where = f"{name}:{line}" if line else name
    what = f" {field}:" if field else ""
    return SetupRefused(f"{where}:{what} {en}", f"{where}:{what} {zh}",
                        fields or [{"field": field or "", "line": line, "problem": en, "problem_zh": zh}])


def line_of(text: str, path: list[str]) -> int | None:
    """The line of a TOML file where the field at ``path`` (``["services", "3", "letter"]``) is written, or the
    nearest line above it that is (the 4th ``[[services]]`` header when its ``letter`` is missing)."""
    lines = _field_lines(text)
    for end in range(len(path), 0, -1):
        line = lines.get(".".join(path[:end]))
        if line is not None:
            return line
    return None


_TWICE_KEYS = {"service code": "code", "service letter": "letter", "window id": "id", "sub-item code": "code",
               "staff id": "id"}


def _named_line(text: str, problem: str) -> tuple[int | None, str | None]:
    """For a check of the whole hall, the line and field its message points at: the second of two services with one
    letter, the window or bundle it names, the list it is about."""
    paths = {line: path for path, line in _field_lines(text).items()}
    twice = re.match(r"(service code|service letter|window id|sub-item code|staff id) used twice: ([^,]+)", problem)
    named = re.match(r"(window|bundle) (\S+?):? ", problem)
    pattern: str | None = None
    nth = 0
    if twice:
        pattern, nth = rf'^\s*{_TWICE_KEYS[twice.group(1)]}\s*=\s*"{re.escape(twice.group(2))}"', 1
    elif named:
        pattern = rf'^\s*{"id" if named.group(1) == "window" else "code"}\s*=\s*"{re.escape(named.group(2))}"'
    else:
        key = next((k for k in ("holidays", "workdays", "hours", "appointments", "policy") if k in problem), None)
        if key is None and "opening" in problem:
            key = "hours"
        if key is not None:
            pattern = rf"^\s*(\[{key}\]|{key}\s*=)"
    if pattern is None:
        return None, None
    hits = [n for n, line in enumerate(text.splitlines(), 1) if re.match(pattern, line)]
    if not hits:
        return None, None
    line = hits[min(nth, len(hits) - 1)]
    return line, paths.get(line)


def _field_lines(text: str) -> dict[str, int]:
    """Every header and key of a TOML file by its path in the data (arrays of tables numbered from 0)."""
    found: dict[str, int] = {}
    index: dict[str, int] = {}  # array of tables (dotted name) -> the index of its element being read
    counts: dict[str, int] = {}  # resolved path of an array of tables -> how many elements so far
    table = ""
    for n, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            parts = header.group(1).split(".")
            resolved = []
            for i, part in enumerate(parts):
                resolved.append(part)
                dotted = ".".join(parts[:i + 1])
                if i < len(parts) - 1 and dotted in index:
                    resolved.append(str(index[dotted]))
            table = ".".join(resolved)
            if line.lstrip().startswith("[["):
                counts[table] = counts.get(table, -1) + 1
                index[header.group(1)] = counts[table]
                table = f"{table}.{counts[table]}"
            found.setdefault(table, n)
            continue
        key = _KEY.match(line)
        if key:
            found.setdefault(f"{table}.{key.group(1)}" if table else key.group(1), n)
    return found
