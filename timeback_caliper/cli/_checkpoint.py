"""The ``send --checkpoint`` journal: which events the API accepted, so a later run skips them.

The checkpoint is an append-only JSON Lines file (one record per line, each fsynced before the next request):

* line 1, the header: ``{"checkpoint": "timeback-caliper-send", "version": 1, "base_url": ..., "created": ...}``
* ``{"op": "sending", "batch": 3, "events": [ids]}`` just before an envelope is posted;
* ``{"op": "accepted", "batch": 3, "jobs": ["17"], "events": [ids], "closed": true}`` once the API accepted it
  (``closed: false`` when only part of the batch was accepted, followed by ``closed``);
* ``{"op": "closed", "batch": 3, "error": "..."}``: the rest of the batch was certainly not accepted;
* ``{"op": "job", "job": "17", "state": "completed"}`` after ``--wait`` saw the job finish.

Appending never rewrites what is already there, so a crash leaves at most a torn last line, which loading drops.
A ``sending`` batch that was never closed is *in flight*: the process died (or was aborted) while the API may
have been storing it; the next run decides what to do with it (``--in-flight``). An exclusive lock stops two
runs from sharing one checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from ..errors import TimebackError

__all__ = ["FORMAT", "VERSION", "Checkpoint", "CheckpointError"]

logger = logging.getLogger(__name__)

FORMAT = "timeback-caliper-send"
VERSION = 1


class CheckpointError(TimebackError):
    """The checkpoint cannot be used: another run holds it, it belongs to another API, or it is damaged."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Checkpoint:
    """An open, locked checkpoint file. Use :meth:`open`; call :meth:`close` (or use ``with``) when done."""

    def __init__(self, path: Path, handle: IO[bytes], base_url: str) -> None:
        self.path, self._handle, self.base_url = path, handle, base_url
        self.accepted: dict[str, str | None] = {}
        """Accepted event key -> its job id (None when unknown)."""
        self.jobs: list[str] = []
        """Job ids of every accepted envelope, oldest first."""
        self.job_states: dict[str, str] = {}
        """Final states recorded by ``--wait``."""
        self._open: dict[int, list[str]] = {}
        self._batch = 0

    # ------------------------------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | Path, *, base_url: str) -> Checkpoint:
        """Open (or create) the checkpoint at ``path`` for the API at ``base_url``, locked for this process.

        Raises:
            CheckpointError: locked by another run, written for another ``base_url``, or not a checkpoint.
        """
        target = Path(path)
        try:
            handle = open(target, "a+b")  # noqa: SIM115 - held open (and locked) until close()
        except OSError as exc:
            raise CheckpointError(f"cannot open checkpoint {target}: {exc.strerror or exc}") from exc
        try:
            _lock(handle, target)
            point = cls(target, handle, base_url)
            point._load()
        except BaseException:
            handle.close()
            raise
        return point

    def _load(self) -> None:
        self._handle.seek(0)
        data = self._handle.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # a torn last record (the process died mid-write): it never happened
            logger.warning("checkpoint %s: dropping a torn last record", self.path)
            self._handle.truncate(end)
            data = data[:end]
        lines = data.splitlines()
        if not lines:
            self._append({"checkpoint": FORMAT, "version": VERSION, "base_url": self.base_url, "created": _now()})
            return
        try:
            records = [json.loads(line) for line in lines]
        except ValueError as exc:
            raise CheckpointError(f"{self.path} is damaged ({exc}); move it away to start over") from exc
        head = records[0]
        if not isinstance(head, dict) or head.get("checkpoint") != FORMAT:
            raise CheckpointError(f"{self.path} is not a timeback-caliper send checkpoint")
        if head.get("version") != VERSION:
            raise CheckpointError(
                f"{self.path} has checkpoint version {head.get('version')!r}; this one reads {VERSION}"
            )
        if head.get("base_url") != self.base_url:
            raise CheckpointError(
                f"{self.path} records sends to {head.get('base_url')}, not {self.base_url}: use another checkpoint file"
            )
        for record in records[1:]:
            self._apply(record)

    def _apply(self, record: dict[str, Any]) -> None:
        op, batch = record.get("op"), record.get("batch")
        if isinstance(batch, int):
            self._batch = max(self._batch, batch)
        if op == "sending" and isinstance(batch, int):
            self._open[batch] = list(record.get("events") or [])
        elif op == "accepted":
            jobs = [j for j in record.get("jobs") or [] if isinstance(j, str)]
            for job in jobs:
                if job not in self.jobs:
                    self.jobs.append(job)
            only = jobs[0] if len(jobs) == 1 else None
            for key in record.get("events") or []:
                self.accepted[key] = only
            if record.get("closed", True) and isinstance(batch, int):
                self._open.pop(batch, None)
        elif op == "closed" and isinstance(batch, int):
            self._open.pop(batch, None)
        elif op == "job" and isinstance(record.get("job"), str) and isinstance(record.get("state"), str):
            self.job_states[record["job"]] = record["state"]

    # ------------------------------------------------------------------------------------------ state
    @property
    def in_flight(self) -> list[str]:
        """Events of batches that were sent but never settled (the API may or may not have them)."""
        return [k for keys in self._open.values() for k in keys if k not in self.accepted]

    @property
    def pending_jobs(self) -> list[str]:
        """Jobs not yet seen completed."""
        return [j for j in self.jobs if self.job_states.get(j) != "completed"]

    # ------------------------------------------------------------------------------------------ writing
    def begin(self, keys: Iterable[str]) -> int:
        """Record that a batch is about to be posted; returns its number."""
        self._batch += 1
        record = {"op": "sending", "batch": self._batch, "events": list(keys), "at": _now()}
        self._write(record)
        return self._batch

    def accept(self, batch: int, jobs: Iterable[str | None], keys: Iterable[str], *, closed: bool = True) -> None:
        """Record events the API accepted (``closed=False``: more of this batch may follow, or a :meth:`settle`)."""
        record = {
            "op": "accepted",
            "batch": batch,
            "jobs": [j for j in jobs if j],
            "events": list(keys),
            "closed": closed,
            "at": _now(),
        }
        self._write(record)

    def settle(self, batch: int, error: str | None = None) -> None:
        """Record that the rest of ``batch`` was certainly not accepted (a definite refusal, or nothing sent)."""
        self._write({"op": "closed", "batch": batch, "error": error, "at": _now()})

    def confirm(self, keys: Iterable[str]) -> None:
        """Record in-flight events found stored on the server (accepted by a run that died before recording it)."""
        keys = list(keys)
        batches = [b for b, open_keys in self._open.items() if set(open_keys) & set(keys)]
        for batch in batches or [0]:
            self._write({"op": "accepted", "batch": batch, "jobs": [], "events": keys, "closed": False, "at": _now()})

    def forget_in_flight(self) -> None:
        """Settle every open batch: its events not accepted are to be sent again (or skipped) by this run."""
        for batch in list(self._open):
            self.settle(batch, "in flight when a previous run stopped; settled by a later run")

    def job_state(self, job: str, state: str) -> None:
        """Record a job's final state."""
        self._write({"op": "job", "job": job, "state": state, "at": _now()})

    def _write(self, record: dict[str, Any]) -> None:
        self._append(record)
        self._apply(record)

    def _append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        self._handle.seek(0, os.SEEK_END)
        self._handle.write(line)
        self._handle.flush()
        os.fsync(self._handle.fileno())  # on disk before the next request: a crash must not lose an acceptance

    # ------------------------------------------------------------------------------------------ closing
    def close(self) -> None:
        """Unlock and close the file (safe to call twice)."""
        if not self._handle.closed:
            self._handle.close()  # closing releases the lock

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _lock(handle: IO[bytes], path: Path) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory lock, one run per checkpoint is up to the user
        logger.debug("no fcntl: checkpoint %s is not locked", path)
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        raise CheckpointError(f"checkpoint {path} is in use by another run") from exc
