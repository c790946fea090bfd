"""People and devices: accounts, sign-in with a password, the session cookie, lock-out, revocable credentials."""
