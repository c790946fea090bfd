"""The hall set up live: services, windows, hours and holidays, changed by its own people while it runs."""
