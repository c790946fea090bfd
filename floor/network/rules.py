"""A county's network of halls: the region tree the halls hang in, and the one catalog (受理事典) of a county from
which each of its halls takes the services it is authorised for.

Pure: the network's file data in, checked models out; a hall's file data in, its services filled from the catalog
out. A region is a province, city, county, town or village; each lies below one of a wider kind.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from queue_engine.config import HallConfig, Invalid, Location, Service

RegionKind = Literal["province", "city", "county", "town", "village"]
KINDS: tuple[RegionKind, ...] = ("province", "city", "county", "town", "village")  # widest first
KIND_ZH = {"province": "省", "city": "市", "county": "县", "town": "镇（街道）", "village": "村（社区）"}
Json = dict[str, Any]
EARTH_KM = 6371.0


class Region(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    name: str = Field(min_length=1, max_length=60)
    kind: RegionKind
    parent: str | None = None


class Network(BaseModel):
    """The regions (each below its parent) and, per county (or any region that keeps one), its catalog."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    regions: tuple[Region, ...]
    catalogs: dict[str, tuple[Service, ...]] = Field(default_factory=dict)
    # A region's catalog may be the services of one of its halls (the county centre accepts everything): written
    # once, in that hall's file.
    catalog_halls: dict[str, str] = Field(default_factory=dict)
    _by_id: dict[str, Region] = PrivateAttr(default_factory=dict)

    @field_validator("regions")
    @classmethod
    def _a_tree(cls, regions: tuple[Region, ...]) -> tuple[Region, ...]:
        ids = [r.id for r in regions]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise Invalid(f"region id used twice: {', '.join(twice)}", f"地区编号重复：{'、'.join(twice)}")
        by_id = {r.id: r for r in regions}
        for r in regions:
            if r.parent is None:
                continue
            parent = by_id.get(r.parent)
            if parent is None:
                raise Invalid(f"region {r.id}: its parent {r.parent!r} is not a region of the network",
                              f"地区 {r.id} 的上级 {r.parent} 不在地区列表中")
            if KINDS.index(parent.kind) >= KINDS.index(r.kind):
                raise Invalid(f"region {r.id} ({r.kind}) cannot lie below {parent.id} ({parent.kind})",
                              f"{KIND_ZH[r.kind]}级地区 {r.id} 不能隶属于{KIND_ZH[parent.kind]}级地区 {parent.id}")
        return regions  # a parent is always of a wider kind, so there can be no cycle

    @model_validator(mode="after")
    def _catalogs_of_regions(self) -> Network:
        known = {r.id for r in self.regions}
        for region in set(self.catalog_halls) - known:
            raise Invalid(f"the catalog of {region!r} belongs to no region of the network",
                          f"受理事典 {region} 不属于网络中的任何地区")
        for region, services in self.catalogs.items():
            if region not in known:
                raise Invalid(f"the catalog of {region!r} belongs to no region of the network",
                              f"受理事典 {region} 不属于网络中的任何地区")
            codes = [s.code for s in services]
            twice = sorted({c for c in codes if codes.count(c) > 1})
            if twice:
                raise Invalid(f"catalog {region}: service code used twice: {', '.join(twice)}",
                              f"受理事典 {region} 的业务代码重复：{'、'.join(twice)}")
        return self

    def with_catalogs_of(self, halls: dict[str, tuple[Service, ...]]) -> Network:
        """The network with each catalog that is a hall's services filled in from ``halls`` (id -> services)."""
        missing = sorted(h for h in self.catalog_halls.values() if h not in halls)
        if missing:
            raise Invalid(f"catalog halls not served here: {', '.join(missing)}",
                          f"作为受理事典的大厅未在本服务器配置：{'、'.join(missing)}")
        filled = {region: halls[hall] for region, hall in self.catalog_halls.items()}
        return self.model_copy(update={"catalogs": {**self.catalogs, **filled}})

    def region(self, region_id: str) -> Region | None:
        return self._by_id.get(region_id)

    def model_post_init(self, _: Any) -> None:
        self._by_id = {r.id: r for r in self.regions}  # asked for on every request of a region manager

    def path(self, region_id: str) -> list[Region]:
        """The region and every region above it, widest first."""
        found: list[Region] = []
        region = self.region(region_id)
        while region is not None:
            found.insert(0, region)
            region = self.region(region.parent) if region.parent else None
        return found

    def below(self, region_id: str) -> set[str]:
        """The region and every region under it, at any depth."""
        found = {region_id}
        grew = True
        while grew:
            more = {r.id for r in self.regions if r.parent in found} - found
            found |= more
            grew = bool(more)
        return found


def authorised_services(catalog: tuple[Service, ...], authorised: tuple[str, ...]) -> list[Json]:
    """The catalog's services a hall may accept, as hall file data: a service named is taken whole, a sub-item
    named brings its service with only the sub-items named; a theme bundle comes when every member does. A code the
    catalog does not have is refused (a misspelt authorisation would quietly leave an item out)."""
    services = {s.code: s for s in catalog}
    items = {i.code: s.code for s in catalog for i in s.items}
    unknown = [code for code in authorised if code not in services and code not in items]
    if unknown:
        raise Invalid(f"authorised names what the catalog does not have: {', '.join(unknown)}",
                      f"授权清单中的 {'、'.join(unknown)} 不在受理事典中")
    whole = {code for code in authorised if code in services}
    some: dict[str, list[str]] = {}
    for code in authorised:
        if code in items and items[code] not in whole:
            some.setdefault(items[code], []).append(code)
    taken: list[Json] = []
    for s in catalog:
        if s.bundle:
            continue
        if s.code in whole:
            taken.append(s.model_dump(mode="json"))
        elif s.code in some:
            data = s.model_dump(mode="json")
            data["items"] = [i for i in data["items"] if i["code"] in some[s.code]]
            taken.append(data)
    members = {t["code"] for t in taken}
    taken += [s.model_dump(mode="json") for s in catalog if s.bundle and set(s.bundle) <= members]
    return taken


def compose(hall: Json, network: Network) -> Json:
    """A hall file's data with its services taken from its catalog, if it names one (it then lists none itself)."""
    region, catalog = hall.get("region"), hall.get("catalog")
    if region is not None and network.region(str(region)) is None:
        raise Invalid(f"hall {hall.get('id')}: region {region!r} is not a region of the network",
                      f"大厅 {hall.get('id')} 的所属地区 {region} 不在地区列表中")
    if catalog is None:
        return hall
    if catalog not in network.catalogs:
        raise Invalid(f"hall {hall.get('id')}: there is no catalog {catalog!r} in the network",
                      f"大厅 {hall.get('id')} 所用的受理事典 {catalog} 不存在")
    if hall.get("services"):
        raise Invalid(f"hall {hall.get('id')} takes its services from catalog {catalog}; list what it is authorised "
                      "for in `authorised`, not its own services",
                      f"大厅 {hall.get('id')} 的业务取自受理事典 {catalog}，"
                      "请在 authorised 中列出授权事项，不要另列业务")
    services = authorised_services(network.catalogs[catalog], tuple(hall.get("authorised") or ()))
    return {**hall, "services": services}


def distance_km(a: Location, b: Location) -> float:
    """The great-circle distance between two halls (haversine; a county is small enough for it)."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlon = lat2 - lat1, math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_KM * math.asin(math.sqrt(h))


def county_of(network: Network, region: str | None) -> str | None:
    """The county a region lies in (the region itself, if it is one); None above or outside any county."""
    if region is None:
        return None
    return next((r.id for r in network.path(region) if r.kind == "county"), None)


def can_serve(hall: HallConfig, service: str, item: str | None) -> bool:
    svc = hall.service(service)
    return svc is not None and (item is None or svc.item(item) is not None)


def nearby(network: Network, here: HallConfig, halls: list[HallConfig], service: str, item: str | None,
           limit: int = 3) -> list[tuple[HallConfig, float | None]]:
    """The halls of ``here``'s county that can serve what it cannot (就近办), nearest first: (hall, km or None when
    either hall has no location, those last)."""
    county = county_of(network, here.region)
    if county is None:
        return []
    below = network.below(county)
    found = [(h, distance_km(here.location, h.location) if here.location and h.location else None)
             for h in halls if h.id != here.id and h.region in below and can_serve(h, service, item)]
    found.sort(key=lambda pair: (pair[1] is None, pair[1] or 0.0, pair[0].id))
    return found[:limit]
