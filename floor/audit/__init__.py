"""The audit trail: who did what and when, read from the events that say so."""
