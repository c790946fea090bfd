"""Prometheus metrics (``GET /metrics``), correct across uvicorn workers and the archive process.

prometheus_client in multiprocess mode: every process writes its counters and histograms to mmap files in one
directory (``hallq serve`` makes it and empties it before the workers start, ``floor.metrics.directory``), and the
worker answering a scrape reads them all. What a scrape can read from Redis (waits, the record's backlog) is read
then by that worker alone and written to no file. ``docs/monitoring.md`` says what each metric means.

Where each thing is counted, so that it is counted once:

- requests and websockets: in the worker that serves them (``requests``);
- tickets issued, called, finished...: in the archive process, which alone reads each event (``tickets``);
- Redis errors: where the server logs them, and start-up retries in the app factory (``store_errors``);
- the event loop's lag: in each worker (``worker``).

Rules are pure (``labels``, ``readings``, ``directory``); I/O stays at the edges (``hall_reads``, ``exposition``).
"""
