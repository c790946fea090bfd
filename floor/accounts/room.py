"""Accounts: sign-in, sessions, the hall's accounts and keys, and their pages."""

from __future__ import annotations

from pathlib import Path

from floor.accounts import api, pairing, region_api
from floor.http.room import Room

HERE = Path(__file__).resolve().parent

ROOM = Room(
    name="accounts",
    endpoints=[*api.ENDPOINTS, *pairing.ENDPOINTS, *region_api.ENDPOINTS],
    pages={"accounts": HERE / "pages" / "accounts.html"},
    assets=HERE / "assets",
)
