"""queue_engine."""
