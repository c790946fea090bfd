"""The hall server: its kernel (app factory, route kit, SQL record, realtime hub, CLI) and the hall services,
a package each."""
