"""Tickets: issuing (guide desk, kiosk, integrations), looking one up, the citizen's phone line and pages."""
