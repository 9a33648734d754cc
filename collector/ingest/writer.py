"""The one thread that writes to the store: reports queued by every stream are committed in groups.

Reports are checked and flattened in the submitting thread (each stream's reader), so the writer
only inserts. A group holds at most `max_batch` reports and about `max_rows` part rows. Reports
bigger than `max_rows` go to a second lane (its own thread and DuckDB connection), so small
reports never wait behind the insert of a huge one. Receipts wait on each report's Future, which is
resolved only after its group is committed. Nothing a report holds can stop these threads: an
unexpected error rejects the reports it concerns, and the thread goes on.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from estate.collector.ingest.flatten import FlatReport
from estate.collector.security.senders import Sender
from estate.collector.store.database import Incoming, Outcome, Store, StoreError, prepare
from estate.v1 import inventory_pb2 as pb

log = logging.getLogger("estate.collector")

MAX_WRITE_BATCH = 256
# Part rows per group commit: one DuckDB row group, where an Arrow insert reaches its full speed.
MAX_GROUP_ROWS = 262_144
# While reports keep coming (more were queued during the last commit), a group waits up to this long
# for more once the queue is empty: each group costs fixed statements and a pass over its assets'
# open intervals, so larger groups pay for the wait (measured: groups of about 165 reports instead of
# 110, 4% faster ingest). An idle collector commits a lone report at once.
LINGER_S = 0.03
# A commit slower than this is logged: receipts of every stream wait for it.
SLOW_COMMIT_S = 0.5


class Writer:
    """The one thread that writes to the store, committing queued reports in groups."""

    def __init__(self, store: Store, max_batch: int = MAX_WRITE_BATCH, max_rows: int = MAX_GROUP_ROWS,
                 on_commit: Callable[[Sequence[str]], None] | None = None, via: str = "grpc") -> None:
        self.store = store
        self.max_batch = max_batch
        self.max_rows = max_rows
        self.via = via
        # Called in this thread with the asset ids just stored, after their receipts are released;
        # it must return at once (the scorer only takes note and works in its own thread).
        self.on_commit = on_commit
        self._queue: queue.Queue[tuple[FlatReport, Future[Outcome]] | None] = queue.Queue()
        self._bulk_queue: queue.Queue[tuple[FlatReport, Future[Outcome]] | None] = queue.Queue()
        self._bulk_store = Store.lane(store)
        # Each asset's part hashes as last committed: a report whose part is unchanged is not even
        # flattened (history.apply checks again under its transaction). Updated after each commit.
        self._hints = store.part_hashes()
        self._thread = threading.Thread(target=self._run, args=(self.store, self._queue),
                                        name="store-writer", daemon=True)
        self._bulk_thread = threading.Thread(target=self._run, args=(self._bulk_store, self._bulk_queue),
                                             name="store-writer-bulk", daemon=True)
        self._thread.start()
        self._bulk_thread.start()

    def submit(self, report: pb.Inventory, sender: str = "", sha256: str = "", data: bytes = b"",
               who: Sender | None = None) -> Future[Outcome]:
        """Check and flatten report here, then queue it; the Future resolves once it is committed.

        `who` is the sender as security/senders.py knows it (certificate, role, scopes): checked
        here and, for agents' asset bindings, by the store in the writer's thread.
        """
        future: Future[Outcome] = Future()
        prepared = prepare(Incoming(report, sender, sha256, data, who), dt.datetime.now(dt.timezone.utc), self.via,
                           self._hints.get, self.store.numbering.knows)
        if isinstance(prepared, Outcome):
            future.set_result(prepared)
        elif _rows(prepared) > self.max_rows:
            self._bulk_queue.put((prepared, future))
        else:
            self._queue.put((prepared, future))
        return future

    def close(self) -> None:
        """Finish what is queued, then stop."""
        self._queue.put(None)
        self._bulk_queue.put(None)
        self._thread.join()
        self._bulk_thread.join()
        self._bulk_store.close()

    def _run(self, store: Store, work_queue: queue.Queue[tuple[FlatReport, Future[Outcome]] | None]) -> None:
        carry: tuple[FlatReport, Future[Outcome]] | None = None
        busy = False  # reports arrived while the last group was being committed
        while True:
            item = carry if carry is not None else work_queue.get()
            carry = None
            if item is None:
                return
            work = [item]
            rows = _rows(item[0])
            stop = False
            linger_until = time.monotonic() + (LINGER_S if busy else 0.0)
            while len(work) < self.max_batch and rows < self.max_rows:
                try:
                    more = work_queue.get_nowait()
                except queue.Empty:
                    wait = linger_until - time.monotonic()
                    if wait <= 0:
                        break
                    try:
                        more = work_queue.get(timeout=wait)
                    except queue.Empty:
                        break
                if more is None:
                    stop = True
                    break
                if rows + _rows(more[0]) > self.max_rows:
                    carry = more  # a big report waits for the next group, alone if need be
                    break
                work.append(more)
                rows += _rows(more[0])
            self._commit(store, work)
            if stop:
                return
            busy = not work_queue.empty()
            if store is self.store and work_queue.empty():
                self._maintain()

    def _commit(self, store: Store, work: list[tuple[FlatReport, Future[Outcome]]]) -> None:
        outcomes: list[Outcome | StoreError]
        started = time.perf_counter()
        try:
            outcomes = list(store.write_prepared([flat for flat, _ in work]))
        except StoreError as exc:
            log.error("store failed, %d reports not stored: %s", len(work), exc)
            for _, future in work:
                future.set_exception(exc)
            return
        except Exception:  # a defect: never let it take the writer (and every stream) down
            log.exception("unexpected error storing %d reports; storing them one by one", len(work))
            outcomes = [self._alone(store, flat) for flat, _ in work]
        took = time.perf_counter() - started
        if took > SLOW_COMMIT_S:
            log.info("slow commit: %d reports, %d rows in %.2f s", len(work), sum(_rows(f) for f, _ in work), took)
        for (_, future), outcome in zip(work, outcomes, strict=True):
            if isinstance(outcome, StoreError):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
        stored = [flat.asset_id for (flat, _), o in zip(work, outcomes, strict=True)
                  if isinstance(o, Outcome) and o.status == "ACCEPTED"]
        for (flat, _), o in zip(work, outcomes, strict=True):
            if isinstance(o, Outcome) and o.status == "ACCEPTED" and flat.header["in_history"]:
                self._hints[flat.asset_id] = {table: part.digest for table, part in flat.parts.items()}
        if stored and self.on_commit is not None:
            try:
                self.on_commit(stored)
            except Exception:
                log.exception("after-commit hook failed (the reports are stored)")

    def _maintain(self) -> None:
        """Idle moment: compact current tables that closed intervals have filled with deleted rows."""
        try:
            compacted = self.store.compact_if_needed()
        except Exception:
            log.exception("compaction failed (nothing lost; retried when next idle)")
            return
        if compacted:
            log.info("compacted %s", ", ".join(f"{table}_current" for table in compacted))

    def _alone(self, store: Store, flat: FlatReport) -> Outcome | StoreError:
        try:
            return store.write_prepared([flat])[0]
        except StoreError as exc:
            return exc
        except Exception as exc:
            log.exception("report %s could not be stored", flat.report_id)
            return Outcome(flat.report_id, "REJECTED", f"could not be stored: {type(exc).__name__}: {str(exc)[:200]}")


def _rows(flat: FlatReport) -> int:
    return 1 + sum(part.rows for part in flat.parts.values())
