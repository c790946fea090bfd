"""Endpoints found by the shape of their path: a dict lookup where Starlette tries one regex per route.

A path template such as ``/api/v1/halls/{hall}/windows/{w}/call-next`` is its segments: literals, and
parameters at known positions. Templates are grouped by method and segment count, then by where their
parameters sit; a request's path is cut at ``/`` once, and each group of its length is one dict lookup
of the literal segments, however many endpoints there are (Starlette tried every route's regex in turn).

A literal wins over a parameter (``/appointments/slots`` over ``/appointments/{appointment}``): groups
with fewer parameters are tried first. Two templates that could match one path with neither more literal
than the other are refused when added, so the answer never depends on the order of registration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Generic, TypeVar

T = TypeVar("T")


def _picker(positions: tuple[int, ...]) -> Callable[[list[str]], tuple[str, ...]]:
    """Segments at these positions, as a tuple (itemgetter gives a bare item for one position)."""
    if not positions:
        return lambda _: ()
    if len(positions) == 1:
        only = positions[0]
        return lambda segments: (segments[only],)
    return itemgetter(*positions)


@dataclass
class _Group(Generic[T]):
    """The templates of one method and length whose parameters sit at the same positions."""

    params: tuple[int, ...]
    literals: Callable[[list[str]], tuple[str, ...]]
    values: Callable[[list[str]], tuple[str, ...]]
    table: dict[tuple[str, ...], tuple[tuple[str, ...], T]] = field(default_factory=dict)  # literals -> (names, T)


def _is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}") and segment.count("{") == 1


def plain(template: str) -> bool:
    """Whether every parameter of the template is a whole segment (``{chart}.png`` is not): only those are
    found by shape; Starlette's regex takes the rest."""
    return all("{" not in s or _is_param(s) for s in template.split("/"))


class PathShapes(Generic[T]):
    def __init__(self) -> None:
        self._groups: dict[tuple[str, int], list[_Group[T]]] = {}
        self._templates: dict[tuple[str, int], list[tuple[list[str], frozenset[int]]]] = {}  # (segments, params)

    def add(self, method: str, template: str, value: T) -> None:
        if not plain(template):
            raise ValueError(f"{template}: a parameter shares a segment with other text")
        segments = template.split("/")
        params = tuple(i for i, s in enumerate(segments) if _is_param(s))
        known = self._templates.setdefault((method, len(segments)), [])
        for other, other_params in known:
            self._refuse_ambiguity(method, segments, frozenset(params), other, other_params)
        known.append((segments, frozenset(params)))
        groups = self._groups.setdefault((method, len(segments)), [])
        group = next((g for g in groups if g.params == params), None)
        if group is None:
            keep = tuple(i for i in range(len(segments)) if i not in params)
            group = _Group(params, _picker(keep), _picker(params))
            groups.append(group)
            groups.sort(key=lambda g: len(g.params))
        names = tuple(segments[i][1:-1] for i in params)
        group.table[group.literals(segments)] = (names, value)

    @staticmethod
    def _refuse_ambiguity(method: str, segments: list[str], mine: frozenset[int], other: list[str],
                          other_params: frozenset[int]) -> None:
        pairs = enumerate(zip(segments, other, strict=True))
        overlap = all(a == b or i in mine or i in other_params for i, (a, b) in pairs)
        if overlap and not (mine < other_params or other_params < mine):
            raise ValueError(f"{method} {'/'.join(segments)} and {'/'.join(other)} could both match one path")

    def find(self, method: str, path: str) -> tuple[T, dict[str, str]] | None:
        """The value whose template matches, and the path parameters; None when no template does."""
        segments = path.split("/")
        for group in self._groups.get((method, len(segments)), ()):
            found = group.table.get(group.literals(segments))
            if found is not None:
                values = group.values(segments)
                if all(values):  # a parameter is one or more characters, as in Starlette
                    names, value = found
                    return value, dict(zip(names, values, strict=True))
        return None
