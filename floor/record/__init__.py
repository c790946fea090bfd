"""The SQL record of each hall: the archiver folding events into it, rebuilding Redis from it, outage recovery."""
