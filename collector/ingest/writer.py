"""The one thread that writes to the store: reports queued by every stream are committed in groups.

Receipts wait on each report's Future, which is resolved only after its group is committed.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from estate.collector.security.senders import Sender
from estate.collector.store.database import Outcome, Store, StoreError
from estate.v1 import inventory_pb2 as pb

log = logging.getLogger("estate.collector")

MAX_WRITE_BATCH = 64


class Writer:
    """The one thread that writes to the store, committing queued reports in groups."""

    def __init__(self, store: Store, max_batch: int = MAX_WRITE_BATCH,
                 on_commit: Callable[[Sequence[str]], None] | None = None) -> None:
        self.store = store
        self.max_batch = max_batch
        # Called in this thread with the asset ids just stored, after their receipts are released.
        self.on_commit = on_commit
        self._queue: queue.Queue[tuple[pb.Inventory, Sender | None, Future[Outcome]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    def submit(self, report: pb.Inventory, sender: Sender | None = None) -> Future[Outcome]:
        """Queue a report (and who sent it: security/senders.py) for the next group commit."""
        future: Future[Outcome] = Future()
        self._queue.put((report, sender, future))
        return future

    def close(self) -> None:
        """Finish what is queued, then stop."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            work = [item]
            stop = False
            while len(work) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                work.append(more)
            try:
                outcomes = self.store.write_reports([report for report, _, _ in work], via="grpc",
                                                    senders=[sender for _, sender, _ in work])
            except StoreError as exc:
                log.error("store failed, %d reports not stored: %s", len(work), exc)
                for _, _, future in work:
                    future.set_exception(exc)
            else:
                for (_, _, future), outcome in zip(work, outcomes, strict=True):
                    future.set_result(outcome)
                stored = [report.asset_id for (report, _, _), o in zip(work, outcomes, strict=True)
                          if o.status == "ACCEPTED"]
                if stored and self.on_commit is not None:
                    self.on_commit(stored)
            if stop:
                return
