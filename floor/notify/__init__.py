"""Notifications leaving the server: SMS when called or near, the provincial 好差评 system, webhooks."""
