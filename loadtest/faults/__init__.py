"""Faults under load: private Redis and PostgreSQL the runner may kill, a load generator that records every
acknowledged response, and the checks run after each fault (``python -m loadtest.faults --help``)."""
