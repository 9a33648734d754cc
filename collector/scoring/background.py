"""Scoring after ingest in a thread of its own, so a slow score run never delays the next commit.

The writer hands over the asset ids it just stored and goes on; this thread scores them on its own
DuckDB connection (a cursor of the writer's database), merging the ids that arrive while a run is
in progress into the next run. After each run it rests as long as the run took (up to
MAX_REST_S), so scoring takes at most about half of one core from ingest however fast reports come.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

log = logging.getLogger("estate.collector")
MAX_REST_S = 5.0


class BackgroundScoring:
    """Runs `after_ingest(asset_ids)` in one background thread, coalescing what arrives meanwhile."""

    def __init__(self, after_ingest: Callable[[Sequence[str]], None]) -> None:
        self._after_ingest = after_ingest
        self._waiting: set[str] = set()
        self._changed = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="scorer", daemon=True)
        self._thread.start()

    def submit(self, asset_ids: Sequence[str]) -> None:
        """Queue assets for scoring; returns at once (called in the writer thread)."""
        with self._changed:
            self._waiting.update(asset_ids)
            self._changed.notify()

    def close(self) -> None:
        """Score what is waiting, then stop."""
        with self._changed:
            self._stopping = True
            self._changed.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._waiting and not self._stopping:
                    self._changed.wait()
                if not self._waiting:
                    return
                assets, self._waiting = sorted(self._waiting), set()
            started = time.monotonic()
            try:
                self._after_ingest(assets)
            except Exception as exc:  # derived data: the next run redoes it; never stop scoring
                log.error("scoring after ingest failed (reports are stored): %s", exc)
            rest = min(time.monotonic() - started, MAX_REST_S)
            with self._changed:
                if not self._stopping:
                    self._changed.wait_for(lambda: self._stopping, timeout=rest)
