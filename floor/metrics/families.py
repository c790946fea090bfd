"""Every metric a hallq process writes, in one place: name, help, labels, buckets and multiprocess mode.

Made when this module is first imported. In a process ``hallq serve`` started, PROMETHEUS_MULTIPROC_DIR is set by
then (``floor.metrics.directory``), so each value is a slot in that process's mmap file; anywhere else (a test's
app in-process) they are plain values, collected from ``OWN``.

What a scrape reads from Redis (waits, the record's backlog) is not here: it is computed by the worker answering
the scrape and written to no file (``floor.metrics.exposition``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

OWN = CollectorRegistry()  # this process's metrics, for a server without the multiprocess directory

# A window's call is a few milliseconds; a report or an export can take seconds.
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

REQUEST_SECONDS = Histogram(
    "hallq_http_request_duration_seconds",
    "HTTP requests, from the worker taking them up to their answer written, by route template, method and status "
    "class.", ["route", "method", "status"], buckets=REQUEST_BUCKETS, registry=OWN)

# livesum: the sockets open now are those of the workers alive now; a worker that died took its sockets with it.
WEBSOCKETS = Gauge(
    "hallq_websockets_open", "Websockets open now, by what they feed (display, console, dashboard, pad, phone, "
    "region).", ["kind"], multiprocess_mode="livesum", registry=OWN)

LOOP_LAG = Histogram(
    "hallq_event_loop_lag_seconds", "How late a worker's event loop wakes a periodic sleep: every request waiting "
    "to be read waits at least this long.", buckets=LAG_BUCKETS, registry=OWN)
# livemax: the worst worker alive is the one a window's request may land on; a dead worker's last figure is not.
LOOP_LAG_MAX = Gauge(
    "hallq_event_loop_lag_max_seconds", "The worst event loop lag of the last few seconds, of the worst worker "
    "alive.", multiprocess_mode="livemax", registry=OWN)

# Counted by the archive process, once per event (floor.metrics.tickets).
TICKET_LABELS = ["level", "service"]
TICKETS_ISSUED = Counter("hallq_tickets_issued", "Tickets issued, by hall level and service.", TICKET_LABELS,
                         registry=OWN)
TICKETS_CALLED = Counter("hallq_tickets_called", "Tickets called to a window (a recall is not counted again), by "
                         "hall level and service.", TICKET_LABELS, registry=OWN)
TICKETS_FINISHED = Counter("hallq_tickets_finished", "Tickets finished at a window, by hall level and service.",
                           TICKET_LABELS, registry=OWN)
TICKETS_NO_SHOW = Counter("hallq_tickets_no_show", "Tickets marked no-show at a window (过号), by hall level and "
                          "service.", TICKET_LABELS, registry=OWN)
TICKETS_TRANSFERRED = Counter("hallq_tickets_transferred", "Tickets transferred (转窗), by hall level and the "
                              "service they left.", TICKET_LABELS, registry=OWN)
ARCHIVED = Counter("hallq_archived_events", "Events written to the SQL record for the first time.", registry=OWN)

REDIS_ERRORS = Counter(
    "hallq_redis_errors", "Redis errors the server met (a lost connection, a timeout, an error reply), by where it "
    "met them (request, hub, scrape...) and kind.", ["source", "kind"], registry=OWN)
START_RETRIES = Counter(
    "hallq_start_retries", "Start-up steps of a worker tried again because a store did not answer, by store.",
    ["store"], registry=OWN)
