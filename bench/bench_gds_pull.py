"""A GDS pull from 20 collectors on loopback: time and bytes on the wire.

Builds 20 organisations' stores (bench_scoring.build: ASSETS assets of PACKAGES packages each,
scored, labelled org00..org19), starts 20 real `estate-collector serve` processes with mTLS
(certificates from the project's own CA code), and puts a byte-counting TCP relay in front of each,
so the bytes are what crossed the sockets: TLS handshakes, HTTP/2 framing and the Summary replies.
Baseline in the same run: the same 20 collectors pulled one after another (workers=1); then all at
once (the default), each best of three; and the aggregator's store of the merged pull.

Usage: python bench/bench_gds_pull.py [COLLECTORS [ASSETS [PACKAGES]]]
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_scoring import build

from estate.agent.transport import TlsFiles
from estate.collector.process import CollectorProcess, start_collector
from estate.collector.read import gds
from estate.collector.ruleset.rules import default_rules_dir
from estate.collector.scoring.scorer import score, sync_rules
from estate.collector.security import certs

COLLECTORS, ASSETS, PACKAGES = 20, 2_000, 20


class CountingRelay:
    """Accept on a loopback port and relay each connection to `target`, counting bytes both ways."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.sent = self.received = 0  # to the collector / from it
        self.lock = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> None:
        with self.lock:
            self.sent = self.received = 0

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for a, b, up in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=(a, b, up), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, up: bool) -> None:
        try:
            while data := source.recv(65536):
                with self.lock:
                    if up:
                        self.sent += len(data)
                    else:
                        self.received += len(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


def main(collectors: int = COLLECTORS, assets: int = ASSETS, packages: int = PACKAGES) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pki = work / "pki"
        certs.init_ca(pki)
        certs.issue(pki, "collector", "collector", ("127.0.0.1",))
        certs.issue(pki, "gds", "gds")
        started = time.perf_counter()
        for n in range(collectors):
            store = build(work / f"org{n:02d}.duckdb", assets, packages)
            store.con.execute(f"UPDATE reports SET labels = map(['system', 'org'], ['sys' || (hash(asset_id) % 50), "
                              f"'org{n:02d}'])")
            assert sync_rules(store.con, default_rules_dir()).errors is None
            score(store.con)
            store.close()
        print(f"built and scored {collectors} stores of {assets:,} assets in {time.perf_counter() - started:.1f} s")
        procs: list[CollectorProcess] = []
        try:
            for n in range(collectors):
                procs.append(start_collector(work / f"org{n:02d}.duckdb", work / f"org{n:02d}.log", [
                    "--tls-cert", str(pki / "collector.pem"), "--tls-key", str(pki / "collector.key"),
                    "--tls-ca", str(pki / "ca.pem")], timeout_s=120))
            relays = [CountingRelay(p.port) for p in procs]
            sources = [gds.Source(f"org{n:02d}", f"127.0.0.1:{r.port}") for n, r in enumerate(relays)]
            tls = TlsFiles(pki / "ca.pem", pki / "gds.pem", pki / "gds.key")
            gds.pull_all(sources[:1], tls)  # warm each side once
            results = {}
            for label, workers in (("one after another (baseline)", 1), ("all at once", 16)):
                best = float("inf")
                for _ in range(3):
                    for r in relays:
                        r.reset()
                    t0 = time.perf_counter()
                    pulled = gds.pull_all(sources, tls, workers=workers)
                    best = min(best, time.perf_counter() - t0)
                    assert all(p.summary is not None for p in pulled), [p.error for p in pulled if p.error]
                wire_up, wire_down = sum(r.sent for r in relays), sum(r.received for r in relays)
                payload = sum(p.reply_bytes for p in pulled)
                results[label] = best
                print(f"pull of {collectors} collectors, {label}: best of 3 {best:.2f} s; on the wire "
                      f"{wire_up:,} bytes out, {wire_down:,} bytes in ({payload:,} of them Summary replies)")
            ratio = results["one after another (baseline)"] / results["all at once"]
            print(f"all at once: {ratio:.1f}x the speed of one after another")
            con = gds.open_gds(work / "gds.duckdb")
            t0 = time.perf_counter()
            gds.store_pull(con, pulled, None, dt.datetime.now(dt.timezone.utc))
            stored = time.perf_counter() - t0
            cells = con.execute("SELECT count(*) FROM gds_cells").fetchone()
            con.close()
            print(f"stored the merged pull ({cells[0] if cells else 0:,} cells) in {stored:.2f} s")
        finally:
            for p in procs:
                p.stop()


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
