"""Realtime fan-out: one stream reader per process (the hub), each socket's outbox, frames written once."""
