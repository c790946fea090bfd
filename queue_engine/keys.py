"""Every Redis key hallq uses, in one place.

All keys of a hall carry the hall's hash tag ``{hall}``, so one hall lives in one hash slot
and every operation is a single-slot Lua script that runs unchanged on Redis Cluster.
Scripts never build keys; they receive each one in ``KEYS``.
"""

from __future__ import annotations

from dataclasses import dataclass

# The event stream is trimmed (approximately, which is cheap) to this many entries. A busy
# city hall writes ~40,000 events a day; the archiver copies them to SQL within seconds, so
# a few days of history in Redis is plenty for websocket resume.
EVENTS_MAXLEN = 200_000

# Idempotency keys and day sequences outlive their business day by a margin, then expire,
# so a retried request just after midnight still finds its ticket and Redis does not grow.
DAY_SCOPED_TTL_S = 2 * 24 * 3600


@dataclass(frozen=True, slots=True)
class HallKeys:
    hall: str
    prefix: str = "hq"

    @property
    def base(self) -> str:
        return f"{self.prefix}:{{{self.hall}}}"

    # -- hall-wide state --------------------------------------------------------------
    @property
    def tickets(self) -> str:
        """Hash: ticket id -> ticket JSON."""
        return f"{self.base}:tickets"

    @property
    def active(self) -> str:
        """Set of ticket ids that are waiting, called or serving."""
        return f"{self.base}:active"

    @property
    def windows(self) -> str:
        """Hash: window id -> window JSON (state, current ticket, skills, recent misses)."""
        return f"{self.base}:windows"

    @property
    def able(self) -> str:
        """Hash: service code -> number of open windows skilled for it."""
        return f"{self.base}:able"

    @property
    def idle(self) -> str:
        """Hash: service code -> number of open windows skilled for it that are idle (free to call it now). Every
        script gets it as its last key; ``common.lua`` set_state keeps it with the windows' states."""
        return f"{self.base}:idle"

    @property
    def ewma(self) -> str:
        """Hash: service code -> exponentially weighted handling time in ms."""
        return f"{self.base}:ewma"

    @property
    def people(self) -> str:
        """Hash: "<person key>|<service>" -> id of that person's live ticket for that service."""
        return f"{self.base}:people"

    @property
    def calls(self) -> str:
        """List of the latest calls, newest first (JSON), capped at 10."""
        return f"{self.base}:calls"

    @property
    def events(self) -> str:
        """Stream: every state change, appended by the script that made it."""
        return f"{self.base}:events"

    @property
    def restoring(self) -> str:
        """Lock held while one process rebuilds the hall from SQL (a second rebuild would undo the first's work)."""
        return f"{self.base}:restoring"

    @property
    def contacts(self) -> str:
        """Hash: ticket id -> the phone number given at issue, sealed (AES-GCM); expires at the end of the day."""
        return f"{self.base}:contacts"

    @property
    def notified_ahead(self) -> str:
        """Set of ticket ids already sent their "N ahead" notification; expires at the end of the business day."""
        return f"{self.base}:notified-ahead"

    def kiosk_bucket(self, device: str) -> str:
        """One kiosk's issue rate: the time its next ticket is due (GCRA), expiring when its burst has refilled."""
        return f"{self.base}:rate:kiosk:{device}"

    @property
    def holders(self) -> str:
        """Hash: window id -> the account signed in at it (one person at one window, one window per person)."""
        return f"{self.base}:holders"

    @property
    def stand_ins(self) -> str:
        """Hash: a B post's window id -> what it took up for its A post's window while that one's staff is away
        (AB岗, ``floor.accounts.stand_in``): {"for": window, "services": [...], "items": [...]}."""
        return f"{self.base}:stand-ins"

    @property
    def config(self) -> str:
        """Hash: ``version`` and ``document`` (JSON) of the hall's configuration as it runs now; the ``reconfigure``
        script changes it with the live day, and every worker follows its ``hall.configured`` event."""
        return f"{self.base}:config"

    # -- per service / window -----------------------------------------------------------
    def queue(self, service: str) -> str:
        """Sorted set of waiting tickets of a service, scored in calling order."""
        return f"{self.base}:q:{service}"

    def age(self, service: str) -> str:
        """Sorted set of every waiting ticket of a service (window queues too), scored by issue time."""
        return f"{self.base}:age:{service}"

    def window_queue(self, window: str) -> str:
        """Sorted set of tickets transferred to one window in particular."""
        return f"{self.base}:wq:{window}"

    # -- per business day ---------------------------------------------------------------
    def sequence(self, day: str) -> str:
        """Hash: service code -> last number issued that day."""
        return f"{self.base}:seq:{day}"

    def idempotency(self, day: str) -> str:
        """Hash: client Idempotency-Key -> ticket id, for one business day."""
        return f"{self.base}:idem:{day}"

    def late_ratings(self, day: str) -> str:
        """Hash: id of a ticket of that day rated after it left the live day -> when (ms). It expires the hall's
        rating period (``ratings.late_s``) after its latest rating: by then no ticket of the day may be rated."""
        return f"{self.base}:rated:{day}"

    def displays(self, day: str) -> str:
        """Hash: id a lobby display keeps for itself -> what it last reported of its voice that day (JSON, with when).
        Each report gives it a day to live: by the next day's end, a day's displays are gone."""
        return f"{self.base}:displays:{day}"


AUTH_TAG = "auth"  # the hash tag of the sign-in keys: one slot, whichever halls a server runs


@dataclass(frozen=True, slots=True)
class AuthKeys:
    """The keys of sign-in, shared by every hall of a server: accounts may belong to several halls. They carry the
    hash tag ``{auth}``, so on Redis Cluster they live in one slot of their own."""

    prefix: str = "hq"

    @property
    def base(self) -> str:
        return f"{self.prefix}:{{{AUTH_TAG}}}"

    @property
    def revocations(self) -> str:
        """Stream: ids of credentials revoked (a session signed out, a device unpaired, a key withdrawn); every
        worker reads it twice a second and refuses them from then on."""
        return f"{self.base}:revoked"

    def failures(self, kind: str, who: str) -> str:
        """Counter of failed sign-ins of one account (``kind`` "account") or one address ("address"), expiring with
        the lock-out window."""
        return f"{self.base}:fail:{kind}:{who}"

    def pairing(self, code: str) -> str:
        """String (JSON): a device's pairing code -> its hall and the digest of its claim, then its credential once
        paired, until the device collects it; expires with the code (ten minutes)."""
        return f"{self.base}:pair:{code}"

    def pairings_waiting(self, hall: str) -> str:
        """Sorted set of a hall's codes waiting to be paired, scored by when they were asked for (a cap on them)."""
        return f"{self.base}:pairing:{hall}"
