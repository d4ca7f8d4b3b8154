"""``Emulator``: a local Timeback Caliper + Insights API on a real HTTP/1.1 server, with faults and introspection."""

from __future__ import annotations

import fnmatch
import logging
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ..client import CaliperClient
from .backend import DEFAULT_APPLICATIONS, Backend, ClientSpec, DedupeMode, EmulatorConfig, RecordedRequest, SuccessBody
from .faults import DEFAULT_RANDOM_KINDS, Fault, FaultController, FaultStats, RandomFaults
from .insights import user_id_for
from .records import EventCopy, JobRow
from .routes_admin import reset, state
from .server import EmulatorServer
from .store import Store

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "Emulator"]

logger = logging.getLogger(__name__)

DEFAULT_CLIENT_ID = "emulator-client"
DEFAULT_CLIENT_SECRET = "emulator-secret"  # noqa: S105 - a well-known test credential, like stripe-mock's


class Emulator:
    """A local emulator of the Timeback Caliper API (contract §12): start it, point a client at it, break it.

    ``with Emulator() as emu:`` starts a threaded HTTP/1.1 server on ``127.0.0.1`` (a free port by default)
    and stops it on exit; ``emu.client()`` returns a :class:`CaliperClient` wired to it. Every setting below
    is also an attribute of ``emu.config`` that can change while it runs.

    Args:
        host: Interface to listen on (``127.0.0.1``; ``0.0.0.0`` inside a container).
        port: TCP port; 0 picks a free one (see :attr:`url`).
        db: A SQLite file that keeps everything across restarts; ``None`` keeps it in memory.
        client_id: The default client's id (``emulator-client``).
        client_secret: The default client's secret (``emulator-secret``).
        clients: More clients: ``{client_id: secret}`` or ``{client_id: ClientSpec(secret, scopes)}``.
        token_lifetime: ``expires_in`` of issued tokens, in seconds.
        job_delay: Seconds a job stays ``active`` before it completes (background worker).
        dedupe: Repeated event ids: ``"off"`` stores every copy (like the real service), ``"ignore"`` keeps the
            first copy and answers 2xx, ``"reject"`` answers 409 and stores nothing.
        success_status: 200, 201 or 202 for an accepted envelope.
        success_body: ``"json"`` (``{"status", "message", "jobId"}``), ``"job-id"`` (the bare id) or ``"empty"``.
        max_body_bytes: Larger request bodies get a 413.
        list_max_limit: ``GET /caliper/events`` caps ``limit`` here.
        session_gap: Insights: seconds between windows that split two sessions.
        seed_applications: Seed the application catalogue with three applications on first start.
        faults: Faults armed from the start (objects or spec strings, see :mod:`.faults`).
        random_faults: A seeded random fault mode for soak tests.
        max_recorded_requests: How many requests :meth:`requests` keeps.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        db: str | None = None,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        clients: Mapping[str, str | ClientSpec] | None = None,
        token_lifetime: int = 3600,
        job_delay: float = 0.005,
        dedupe: DedupeMode = "off",
        success_status: int = 200,
        success_body: SuccessBody = "json",
        max_body_bytes: int = 1_048_576,
        list_max_limit: int = 1000,
        session_gap: float = 600.0,
        seed_applications: bool = True,
        faults: Iterable[Fault | str] = (),
        random_faults: RandomFaults | None = None,
        max_recorded_requests: int = 10_000,
    ) -> None:
        self.config = EmulatorConfig(
            token_lifetime=token_lifetime,
            job_delay=job_delay,
            dedupe=dedupe,
            success_status=success_status,
            success_body=success_body,
            max_body_bytes=max_body_bytes,
            list_max_limit=list_max_limit,
            session_gap=session_gap,
            max_recorded_requests=max_recorded_requests,
        )
        """Behaviour switches, read on every request."""
        self.host, self.client_id, self.client_secret = host, client_id, client_secret
        self._port = port
        specs: dict[str, ClientSpec] = {client_id: ClientSpec(client_secret)}
        for cid, spec in (clients or {}).items():
            specs[cid] = spec if isinstance(spec, ClientSpec) else ClientSpec(spec)
        self._store = Store(db)
        self._backend = Backend(self.config, self._store, specs)
        if seed_applications and not self._store.docs("application"):
            for app in DEFAULT_APPLICATIONS:
                self._backend.seed_application(**app)
        self._backend.faults.add(*faults)
        if random_faults is not None:
            self._backend.faults.set_random(random_faults)
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()

    # ---------------------------------------------------------------------------------------------- lifecycle
    def start(self) -> Emulator:
        """Start serving (and the job worker); returns self. Starting twice does nothing."""
        with self._lifecycle:
            if self._server is not None:
                return self
            server = EmulatorServer((self.host, self._port), self._backend)
            self._port = server.server_address[1]
            self._backend.worker.start()
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="caliper-emulator", daemon=True
            )
            thread.start()
            self._server, self._thread = server, thread
        logger.info("Timeback Caliper emulator listening on %s", self.url)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving: close the listener and every connection, stop the worker (each wait bounded).

        The data stays readable (and a later :meth:`start` serves it again on the same port).
        """
        with self._lifecycle:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.stopping.set()
        if thread is not None and thread.is_alive():
            server.shutdown()  # waits for serve_forever to return (one poll interval)
        server.server_close()
        server.close_connections(timeout)
        if thread is not None:
            thread.join(timeout)
        self._backend.worker.stop(timeout)
        logger.info("Timeback Caliper emulator on port %d stopped", self._port)

    def close(self) -> None:
        """Stop, then close the database."""
        self.stop()
        self._store.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self.running else "stopped"
        return f"<Emulator {where} db={self._store.path or ':memory:'}>"

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The TCP port (known once started when 0 was asked for)."""
        return self._port

    @property
    def url(self) -> str:
        """The base URL of every route, e.g. ``http://127.0.0.1:54321``."""
        host = self.host
        if host in ("", "0.0.0.0"):  # noqa: S104 - a wildcard bind is reached through loopback
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._port}"

    @property
    def token_url(self) -> str:
        """The Cognito-style token route, for the Caliper API."""
        return self.url + "/oauth2/token"

    @property
    def platform_token_url(self) -> str:
        """The platform token route, for Insights and Applications."""
        return self.url + "/auth/1.0/token"

    def client(self, **kwargs: Any) -> CaliperClient:
        """A :class:`CaliperClient` wired to this emulator (both back ends, real token traffic).

        Keyword arguments override the defaults (``client_id``, ``client_secret``, the URLs) and reach the
        client's constructor unchanged (``retry=``, ``timeout=``, ``max_events_per_envelope=``...).
        """
        options: dict[str, Any] = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "base_url": self.url,
            "token_url": self.token_url,
            "platform_url": self.url,
            "platform_token_url": self.platform_token_url,
            "oneroster_url": self.url,  # the OneRoster gradebook routes (testing/gradebook.py)
        }
        options.update(kwargs)
        return CaliperClient(**options)

    def add_client(self, client_id: str, client_secret: str, *, scopes: Iterable[str] | None = None) -> None:
        """Accept another client, optionally limited to ``scopes`` (tests 403s)."""
        spec = ClientSpec(client_secret) if scopes is None else ClientSpec(client_secret, frozenset(scopes))
        self._backend.clients[client_id] = spec

    # ---------------------------------------------------------------------------------------------- faults
    @property
    def faults(self) -> FaultController:
        """The fault queue itself (``add``, ``clear``, ``pending``, ``stats``...)."""
        return self._backend.faults

    def inject(self, *faults: Fault | str) -> None:
        """Arm faults, as objects or spec strings (``"503x2@/caliper/event,retry-after=1"``)."""
        self._backend.faults.add(*faults)

    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        *,
        path: str | None = None,
        method: str | None = None,
        retry_after: float | str | None = None,
        body: Any = None,
    ) -> None:
        """The next ``n`` matching requests answer ``status`` (with ``Retry-After`` if given), unprocessed."""
        self.inject(Fault.status_code(status, n, path=path, method=method, retry_after=retry_after, body=body))

    def delay_next(self, seconds: float, n: int = 1, *, path: str | None = None, method: str | None = None) -> None:
        """The next ``n`` matching requests are processed, then answered ``seconds`` late."""
        self.inject(Fault.delay(seconds, n, path=path, method=method))

    def close_next(
        self, n: int = 1, *, path: str | None = None, method: str | None = None, process: bool = True
    ) -> None:
        """The next ``n`` matching requests get no answer: the connection closes after they were read.

        With ``process=True`` (default) the request was processed first: the ambiguous case.
        """
        self.inject(Fault.close(n, path=path, method=method, process=process))

    def trickle_next(self, seconds: float = 1.0, n: int = 1, *, path: str | None = None) -> None:
        """The next ``n`` matching answers trickle out over ``seconds``."""
        self.inject(Fault.trickle(seconds, n, path=path))

    def expire_token_next(self, n: int = 1, *, path: str | None = None) -> None:
        """The token of the next ``n`` matching requests expires as they arrive (a 401 each)."""
        self.inject(Fault.expire_token(n, path=path))

    def expire_tokens(self) -> int:
        """Every token issued so far expires now; returns how many."""
        return self._backend.expire_tokens()

    def fail_next_jobs(self, n: int = 1, *, reason: str = "injected failure") -> None:
        """The next ``n`` accepted envelopes' jobs end ``failed`` with ``failedReason`` = ``reason``."""
        self.inject(Fault.job_fail(n, reason=reason))

    def delay_next_jobs(self, n: int = 1) -> None:
        """The next ``n`` accepted envelopes' jobs stay ``delayed`` until :meth:`release_jobs`."""
        self.inject(Fault.job_delayed(n))

    def release_jobs(self) -> int:
        """Let every ``delayed`` job run; returns how many."""
        return self._backend.worker.release_delayed()

    @contextmanager
    def jobs_paused(self) -> Iterator[None]:
        """Inside the block, new jobs stay ``waiting``."""
        self._backend.worker.pause()
        try:
            yield
        finally:
            self._backend.worker.resume()

    def random_faults(
        self,
        rate: float | None,
        seed: int | None = None,
        *,
        kinds: Iterable[str] = DEFAULT_RANDOM_KINDS,
        path: str | None = None,
        delay: tuple[float, float] = (0.05, 0.5),
    ) -> None:
        """Fail a ``rate`` share of matching requests in a random way (seeded); ``rate=None`` turns it off."""
        config = None
        if rate is not None:
            config = RandomFaults(rate=rate, seed=seed, kinds=tuple(kinds), path=path, delay=delay)
        self._backend.faults.set_random(config)

    def clear_faults(self) -> None:
        """Disarm every scripted fault and the random mode."""
        self._backend.faults.clear()

    @property
    def fault_stats(self) -> FaultStats:
        """What was injected so far, by kind, with the ambiguous count."""
        return self._backend.faults.stats()

    # ---------------------------------------------------------------------------------------------- introspection
    def requests(self, path: str | None = None, *, method: str | None = None) -> list[RecordedRequest]:
        """Requests received (token routes included), in arrival order; ``path`` is an exact path or ``fnmatch``."""
        found = self._backend.requests()
        if method is not None:
            found = [r for r in found if r.method == method.upper()]
        if path is not None:
            found = [r for r in found if r.path == path or fnmatch.fnmatchcase(r.path, path)]
        return found

    def clear_requests(self) -> None:
        """Empty the request log."""
        self._backend.clear_requests()

    def stored_events(self, client_id: str | None = None) -> list[dict[str, Any]]:
        """Stored events (the records ``GET /caliper/events`` returns), oldest first; all clients by default."""
        return self._store.events(client_id)

    def event_counts(self) -> Counter[str]:
        """Stored copies per event id."""
        return self._store.event_counts()

    @property
    def duplicates(self) -> int:
        """Extra copies stored (copies beyond the first of each event id)."""
        return sum(n - 1 for n in self._store.event_counts().values())

    def duplicate_ids(self) -> dict[str, int]:
        """Event ids stored more than once, with their number of copies."""
        return {k: n for k, n in self._store.event_counts().items() if n > 1}

    def event_copies(self) -> list[EventCopy]:
        """Every stored copy with the job that stored it and whether an ambiguous fault hit that job's request."""
        return self._store.copies()

    def jobs(self) -> list[JobRow]:
        """Every job, oldest first."""
        return self._store.jobs()

    def wait_for_jobs(self, timeout: float = 10.0) -> bool:
        """Wait until no job is queued or running (``delayed`` jobs excepted). False on timeout: assert it."""
        return self._backend.worker.wait_idle(timeout)

    def state(self) -> dict[str, Any]:
        """Counts of events, duplicates, jobs by state, requests, and the fault tallies."""
        return state(self._backend)

    def reset(self) -> None:
        """Forget events, jobs, tokens, webhooks, filters, faults and the request log (clients and apps stay)."""
        reset(self._backend)

    # ---------------------------------------------------------------------------------------------- Insights data
    def seed_application(self, name: str, **fields: Any) -> dict[str, Any]:
        """Add (or replace) an application in the catalogue and return its record.

        Args:
            name: Its name; Insights match events to it by ``object.app.name``.
            **fields: ``sourced_id`` (default ``uuid5(NAMESPACE_URL, "timeback-app:" + name)``), ``description``,
                ``logo_url``, ``application_type``, ``waste_meter``, ``proctoring_mode``.
        """
        return self._backend.seed_application(name, **fields)

    def applications(self) -> list[dict[str, Any]]:
        """The application catalogue."""
        return self._store.docs("application")

    @staticmethod
    def user_id_for(actor: Any) -> str | None:
        """The Insights ``userId`` the emulator derives from an event's actor (a dict or an IRI)."""
        return user_id_for(actor)
