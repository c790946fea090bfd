"""The SQL database: engine, the core tables (hall configuration, events, tickets, audit), migrating."""
