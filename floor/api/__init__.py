"""Guides' and managers' HTTP API (windows' routes live in staff_console, the display feed in displays)."""
