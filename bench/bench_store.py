"""The store by change (issue 9): ingest speed, rescans, bytes per report, reads at 100x history.

Every figure is a ratio against a baseline measured in the same run (the machine is shared):
1. end to end: package rows/s of first-seen reports sent to the real `estate-collector serve` from
   1, 4 and 16 streams (receipts included), in batches of 64 as agents send their spools
   (Ingest.StreamBatches) and one report a message (Ingest.Stream), the median of three runs each,
   against one bare Arrow insert of the same rows into a table of the same columns, and against gRPC
   alone (bench/ack_server.py);
2. daily rescans of the same assets with 1% of packages changed, and unchanged, end to end (4 streams);
   and the writer alone (Store.write_prepared in a loop, groups of 64 and 256), for where the time goes,
   and checking and flattening alone against the same while one other Python thread runs (the GIL);
3. bytes per report after 10 simulated daily scans, against the same facts deduplicated as
   (asset, package, version, first seen, last seen) in a table of their own;
4. `current_packages` (a scan of every current row) and scoring with the shipped rules, at 100 daily
   reports per asset against 1 report per asset.
Reports are this host's own scan (estate-agent's build_report) copied to many assets.

Usage: python bench/bench_store.py [ASSETS]   (ASSETS for parts 1-2; default 1,280)
       python bench/bench_store.py writer [ASSETS]   (the writer alone, without the server)
       python bench/bench_store.py contention [REPORTS]   (flattening alone and sharing the GIL; default 400)
       python bench/bench_store.py storage [ASSETS]   (part 3 only; default 1,000, the issue's scale)
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa

from estate.agent import transport
from estate.agent.hostaccess import LocalHost
from estate.agent.scan import build_report
from estate.agent.wire import encode_report
from estate.collector.ingest.flatten import PART_BY_TABLE
from estate.collector.process import CollectorProcess, start_collector
from estate.collector.ruleset.rules import default_rules_dir
from estate.collector.scoring.scorer import score, sync_rules
from estate.collector.store.database import Store
from estate.v1 import inventory_pb2 as pb

ASSETS = 1_280  # 20 batches of 64 from 1, 4 or 16 streams: seconds of ingest, not a start-up blip
STORAGE_ASSETS = 1_000  # the measurement: 1,000 assets rescanned daily for 10 days
HISTORY_ASSETS = 40
# Runs of each end-to-end ingest figure (fresh collector each): the median is printed, with the range.
END_TO_END_RUNS = 3
CONTENDED_ASSETS = 400  # reports flattened in each run of flattening_contended: seconds, not minutes
DAY0 = dt.datetime(2026, 1, 1, 6, 0, tzinfo=dt.timezone.utc)
# Every stored column of a package (the bare insert writes the same rows the collector does).
PACKAGE_FIELDS = tuple(PART_BY_TABLE["packages"].columns)


def daily(template: pb.Inventory, asset: int, day: int, change: float = 0.01) -> pb.Inventory:
    """The scan of asset on DAY0 + day: the template with `change` of its packages upgraded once a day."""
    inv = pb.Inventory()
    inv.CopyFrom(template)
    inv.report_id = str(uuid.uuid4())
    inv.asset_id = f"bench:{asset:06d}"
    inv.host.hostname = f"host{asset:06d}"
    inv.collected_at.FromDatetime(DAY0 + dt.timedelta(days=day))
    n = len(inv.packages)
    per_day = max(1, round(n * change))
    for past in range(1, day + 1):  # every upgrade so far, so day d differs from day d-1 by per_day packages
        for j in range(per_day):
            package = inv.packages[(asset * 31 + past * 17 + j * 97) % n]
            package.version = f"{package.version}+u{past}"
    return inv


def started(db: Path, log: Path) -> CollectorProcess:
    """A collector whose scorer has loaded the rules (a one-time cost at first start, not ingest)."""
    collector = start_collector(db, log)
    deadline = time.monotonic() + 120
    while "rules loaded" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    return collector


def send(address: str, messages: list[bytes], streams: int, batched: bool = True) -> float:
    """Send messages over `streams` concurrent streams; seconds until every receipt is back.

    batched: as an agent flushing its spool or a sweep sends (Ingest.StreamBatches, 64 reports per
    message); else one report per message (Ingest.Stream)."""
    chunks = [messages[i::streams] for i in range(streams)]
    errors: list[BaseException] = []

    def one(chunk: list[bytes]) -> None:
        try:
            with transport.open_channel(address, None) as channel:
                transport.wait_for_channel(channel, 30)
                stream = transport.stream_batches if batched else transport.stream_reports
                receipts = stream(channel, chunk, timeout_s=600)
                assert all(r.status == r.ACCEPTED for r in receipts), receipts[:3]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(chunk,)) for chunk in chunks]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def bare_arrow_insert(reports: list[pb.Inventory], db: Path) -> float:
    """Seconds for one Arrow insert (and commit) of the reports' package rows into a fresh table of their columns.

    The rows as an agent reports them (every package column, with asset and report): what a store
    that kept every report's rows as they came would write, with nothing else to do.
    """
    columns: dict[str, list[object]] = {"asset_id": [], **{f: [] for f in PACKAGE_FIELDS}, "first_report_id": [],
                                        "first_seen": []}
    for inv in reports:
        n = len(inv.packages)
        columns["asset_id"] += [inv.asset_id] * n
        for name in PACKAGE_FIELDS:
            columns[name] += [getattr(p, name) for p in inv.packages]
        columns["first_report_id"] += [inv.report_id] * n
        columns["first_seen"] += [inv.collected_at.ToDatetime(tzinfo=dt.timezone.utc)] * n
    schema = pa.schema([(name, pa.timestamp("us", tz="UTC") if name == "first_seen" else pa.string())
                        for name in columns])
    table = pa.Table.from_pydict(columns, schema=schema)
    store = Store(db)  # a store file as the collector's; packages_current holds numbers since 0011
    con = store.con
    con.register("incoming", table)
    con.execute("CREATE TABLE bare_packages AS SELECT * FROM incoming LIMIT 0")
    started = time.perf_counter()
    con.execute("BEGIN TRANSACTION")
    con.execute("INSERT INTO bare_packages BY NAME SELECT * FROM incoming")
    con.execute("COMMIT")
    seconds = time.perf_counter() - started
    store.close()
    return seconds


def ingest(template: pb.Inventory, assets: int, tmp: Path) -> None:
    reports = [daily(template, a, 0) for a in range(assets)]
    messages = [encode_report(r) for r in reports]
    rows = sum(len(r.packages) for r in reports)
    # Median of 5 (each into a fresh file): one 0.2 s sample swings with the machine's load.
    bare = statistics.median(bare_arrow_insert(reports, tmp / f"bare{i}.duckdb") for i in range(5))
    print(f"first-seen reports: {assets} assets x {len(template.packages)} packages = {rows:,} package rows")
    print(f"  bare Arrow insert of the same rows: {rows / bare / 1e6:.2f} M rows/s ({bare:.2f} s, median of 5)")
    for streams in (1, 4, 16):
        for batched in (True, False):
            alone = grpc_alone(messages, streams, batched)
            runs = []
            for run in range(END_TO_END_RUNS):  # each into a fresh collector and file
                name = f"streams{streams}{'b' if batched else ''}-{run}"
                collector = started(tmp / f"{name}.duckdb", tmp / f"{name}.log")
                try:
                    runs.append(timed_send(collector, messages, streams, batched))
                finally:
                    collector.stop()
            runs.sort()
            seconds, server, client = runs[len(runs) // 2]
            how = f"batches of {transport.BATCH_REPORTS}" if batched else "one report a message"
            print(f"  end to end, {streams:2d} stream(s), {how}: {rows / seconds / 1e6:.2f} M rows/s "
                  f"({seconds:.2f} s, median of {len(runs)}: {rows / runs[-1][0] / 1e6:.2f}-"
                  f"{rows / runs[0][0] / 1e6:.2f}), {bare / seconds:.2f}x the bare insert "
                  f"({bare / runs[-1][0]:.2f}-{bare / runs[0][0]:.2f}x); gRPC alone {rows / alone / 1e6:.2f} "
                  f"M rows/s ({alone:.2f} s): the store path runs at {alone / seconds:.2f}x it")
            print(f"    {cpu_line(server, client, seconds, len(messages), rows, bare)}")


def grpc_alone(messages: list[bytes], streams: int, batched: bool = True) -> float:
    """Seconds to send messages to bench/ack_server.py (the collector's gRPC server acknowledging at once)."""
    server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("ack_server.py"))],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        address = server.stdout.readline().split()[-1]
        return send(address, messages, streams, batched)
    finally:
        server.kill()
        server.wait()


def rescans(template: pb.Inventory, assets: int, tmp: Path) -> None:
    collector = started(tmp / "rescan.duckdb", tmp / "rescan.log")
    try:
        send(collector.address, [encode_report(daily(template, a, 0)) for a in range(assets)], 4)
        rows = assets * len(template.packages)
        for day, label, batched in ((1, "1% changed", True), (2, "1% changed", True), (3, "1% changed", False),
                                    (3, "unchanged", True)):
            messages = [encode_report(daily(template, a, day)) for a in range(assets)]
            seconds, server, client = timed_send(collector, messages, 4, batched)
            how = f"batches of {transport.BATCH_REPORTS}" if batched else "one report a message"
            print(f"  daily rescan, {label} (day {day}), 4 streams, {how}: {rows / seconds / 1e6:.2f} M package "
                  f"rows/s ({seconds:.2f} s)")
            print(f"    {cpu_line(server, client, seconds, assets, rows)}")
    finally:
        collector.stop()
    with duckdb.connect(str(tmp / "rescan.duckdb"), read_only=True) as con:
        counts = con.execute("SELECT count(*), count(*) FILTER (open) FROM packages").fetchone()
    assert counts is not None
    print(f"  package rows stored after 5 scans of {assets} assets: {counts[0]:,} ({counts[1]:,} current)")


def history(template: pb.Inventory, assets: int, days: int, db: Path) -> Store:
    """A store holding `days` daily reports of each asset, written through Store.write_reports."""
    store = Store(db)
    for day in range(days):
        batch = [daily(template, a, day) for a in range(assets)]
        outcomes = store.write_reports(batch, via="file")
        assert all(o.status == "ACCEPTED" for o in outcomes), outcomes[:3]
        store.compact_if_needed()  # as the collector's writer does when idle between scans
    store.con.execute("CHECKPOINT")
    return store


def storage(template: pb.Inventory, assets: int, tmp: Path) -> None:
    """Bytes per report after 10 daily scans, against the same package facts deduplicated.

    The baseline is a DuckDB file of its own holding (asset, package, version, first seen, last seen),
    written with the store file's block size. Also prints what each table of the store takes.
    """
    days = 10
    store = history(template, assets, days, tmp / "ten_days.duckdb")
    reports = assets * days
    facts = store.con.execute("SELECT count(*) FROM packages").fetchone()
    block_size = _count(store, "SELECT block_size FROM pragma_database_size()")
    store.con.execute(f"ATTACH '{tmp / 'dedup.duckdb'}' AS dedup (BLOCK_SIZE {block_size})")
    store.con.execute("""
        CREATE TABLE dedup.facts AS
        SELECT p.asset_id, p.name, p.version, p.first_seen, coalesce(p.last_seen, s.collected_at) AS last_seen
        FROM packages p JOIN asset_state s USING (asset_id) ORDER BY p.asset_id, p.first_seen""")
    store.con.execute("DETACH dedup")
    names = store.con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                              "AND estimated_size > 0").fetchall()
    tables = {name: _count(store, f"SELECT count(DISTINCT block_id) FROM pragma_storage_info('{name}') "
                                  "WHERE block_id >= 0") for (name,) in names}
    used, free = store.con.execute("SELECT used_blocks, free_blocks FROM pragma_database_size()").fetchone() or (0, 0)
    store.close()
    ours = (tmp / "ten_days.duckdb").stat().st_size
    baseline = (tmp / "dedup.duckdb").stat().st_size
    assert facts is not None
    print(f"10 daily scans of {assets} assets ({reports:,} reports, {facts[0]:,} package intervals), "
          f"blocks of {block_size // 1024} KiB:")
    print(f"  store file {ours / 1e6:.2f} MB = {ours / reports:,.0f} bytes/report; deduplicated baseline "
          f"{baseline / 1e6:.2f} MB = {baseline / reports:,.0f} bytes/report; ratio {ours / baseline:.2f}x")
    print(f"  blocks: {used} used, {free} free; by table: "
          + ", ".join(f"{name} {blocks}" for name, blocks in sorted(tables.items(), key=lambda t: -t[1])))


def reads(template: pb.Inventory, assets: int, tmp: Path) -> None:
    """Scan and scoring times at 100 daily reports per asset against 1, measured alternately.

    The two stores are measured in turns, round after round, and the ratio is the median of the
    rounds' ratios: the machine's load changes from second to second, a ratio within a round does not.
    """
    scan = "SELECT count(*), sum(length(asset_id) + length(name) + length(version)) FROM current_packages"
    stores = {days: history(template, assets, days, tmp / f"history{days}.duckdb") for days in (1, 100)}
    for store in stores.values():
        assert sync_rules(store.con, default_rules_dir()).errors is None
        score(store.con, dt.date(2026, 11, 30))  # warm
        store.con.execute(scan).fetchall()

    def timed(days: int, run: Callable[[duckdb.DuckDBPyConnection], object], repeat: int) -> float:
        started = time.perf_counter()
        for _ in range(repeat):
            run(stores[days].con)
        return (time.perf_counter() - started) / repeat

    scans: dict[int, list[float]] = {1: [], 100: []}
    scores: dict[int, list[float]] = {1: [], 100: []}
    for _ in range(9):
        for days in (1, 100):
            scans[days].append(timed(days, lambda con: con.execute(scan).fetchall(), 10))
    for _ in range(3):
        for days in (1, 100):
            scores[days].append(timed(days, lambda con: score(con, dt.date(2026, 11, 30)), 1))
    stored = {days: _count(store, "SELECT count(*) FROM packages") for days, store in stores.items()}
    for store in stores.values():
        store.close()
    scan_ratio = statistics.median(b / a for a, b in zip(scans[1], scans[100], strict=True))
    score_ratio = statistics.median(b / a for a, b in zip(scores[1], scores[100], strict=True))
    print(f"reads at 100 daily reports per asset against 1 ({assets} assets, {assets * 100:,} reports; "
          f"package intervals stored {stored[1]:,} vs {stored[100]:,}):")
    print(f"  current_packages scan: {statistics.median(scans[1]) * 1e3:.1f} ms vs "
          f"{statistics.median(scans[100]) * 1e3:.1f} ms; median ratio of 9 alternating rounds {scan_ratio:.2f}x")
    print(f"  scoring (findings + risk): {statistics.median(scores[1]):.2f} s vs "
          f"{statistics.median(scores[100]):.2f} s; median ratio of 3 alternating rounds {score_ratio:.2f}x")


def _count(store: Store, sql: str) -> int:
    row = store.con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system) a process has used: `pid` from /proc, or this one (the sending client)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_send(collector: CollectorProcess, messages: list[bytes], streams: int, batched: bool = True
               ) -> tuple[float, float, float]:
    """send(), with the CPU seconds the collector and the sending client (this process) used meanwhile."""
    pid = collector.process.pid
    server, client = _cpu_s(pid), _cpu_s()
    seconds = send(collector.address, messages, streams, batched)
    return seconds, _cpu_s(pid) - server, _cpu_s() - client


def cpu_line(server: float, client: float, seconds: float, reports: int, rows: int, bare: float | None = None) -> str:
    """Where the CPU went, and this machine's ceiling: the rate with every core busy at that cost a report."""
    cores = os.cpu_count() or 1
    ceiling = rows * cores / (server + client)
    text = (f"CPU a report: collector {server / reports * 1e3:.2f} ms, sending client {client / reports * 1e3:.2f} ms; "
            f"{(server + client) / seconds:.2f} of {cores} cores busy; all {cores} busy at that cost: "
            f"{ceiling / 1e6:.2f} M rows/s")
    return text + (f", {ceiling * bare / rows:.2f}x the bare insert" if bare else "")


def _rss_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def huge_report(tmp: Path) -> None:
    """Peak memory of the collector storing one 40 MB report, over its memory before it arrived.

    Once as an older agent sends it (packages as rows), once as agents now do (package columns, whose
    int32 offsets make the same packages about 12% bigger: 410,000 of them fit under the 48 MiB limit).
    """
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.test_receipt_latency import big_report

    forms = (("rows", 462_000, big_report()),
             ("columns", 410_000, encode_report(pb.Inventory.FromString(big_report(410_000)))))
    for form, packages, data in forms:
        collector = started(tmp / f"huge-{form}.duckdb", tmp / f"huge-{form}.log")
        try:
            pid = collector.process.pid
            before = _rss_kb(pid, "VmRSS")
            seconds = send(collector.address, [data], 1)
            peak = _rss_kb(pid, "VmHWM")
        finally:
            collector.stop()
        added = (peak - before) * 1024
        print(f"one {len(data) / 1e6:.1f} MB report ({packages:,} packages as {form}): stored in {seconds:.1f} s; "
              f"collector RSS {before / 1024:.0f} MB before, peak {peak / 1024:.0f} MB: {added / 1e6:.0f} MB added = "
              f"{added / len(data):.1f}x the report's size")


def writer_alone(template: pb.Inventory, assets: int, tmp: Path) -> None:
    """The store's own speed, without gRPC or the server: first-seen and 1%-changed reports written with
    Store.write_prepared in groups of 64 and of 256 (flattened beforehand), against the bare insert.

    Shows what the writer thread could reach on its own, and how much a group's fixed cost weighs.
    """
    from estate.collector.ingest.validate import decode_report
    from estate.collector.store.database import Incoming, prepare
    from estate.collector.store.history import Numbering

    received = dt.datetime.now(dt.timezone.utc)
    first = [daily(template, a, 0) for a in range(assets)]
    rows = sum(len(r.packages) for r in first)
    bare = statistics.median(bare_arrow_insert(first, tmp / f"wbare{i}.duckdb") for i in range(3))
    print(f"the writer alone ({assets} assets, Store.write_prepared in a loop; bare insert "
          f"{rows / bare / 1e6:.2f} M rows/s):")
    # Every list of packages the estate has is kept by the writer (history.Numbering) while they fit its
    # bound. An estate with more distinct lists than that (they differ by one package) rescans without
    # them, round after round: flattened in full and numbered through the catalog join (lists kept: no).
    for group, kept in ((64, True), (256, True), (256, False)):
        store = Store(tmp / f"writer{group}{'' if kept else 'unkept'}.duckdb")
        if not kept:
            store.numbering = Numbering(max_rows=0)
        hints: dict[str, dict[str, bytes | None]] = {}
        for day, label in ((0, "first-seen"), (1, "1% changed")):
            data = [encode_report(daily(template, a, day)) for a in range(assets)]
            flats = [prepare(Incoming(decode_report(d), data=d), received, "grpc", hints.get,
                             store.numbering.knows) for d in data]
            started_at = time.perf_counter()
            for start in range(0, assets, group):
                outcomes = store.write_prepared(flats[start:start + group])
                assert all(o.status == "ACCEPTED" for o in outcomes), outcomes[:3]
            seconds = time.perf_counter() - started_at
            unkept = "" if kept else ", no list kept (more distinct lists than the bound)"
            print(f"  groups of {group:3d}, {label}{unkept}: {rows / seconds / 1e6:.2f} M rows/s "
                  f"({seconds / assets * 1e3:.2f} ms a report), {bare / seconds:.2f}x the bare insert")
            hints = store.part_hashes()
        store.close()


def flattening_contended(template: pb.Inventory, assets: int) -> None:
    """Checking and flattening first-seen reports (`prepare`) alone, then while one other Python thread runs.

    In the collector the flattening thread shares the GIL with the writer's Python and the event loop.
    It lets go of the GIL a dozen times a report (hashing, Arrow's checks) and each time must take it
    back: this shows what that costs, apart from the work itself.
    """
    from estate.collector.ingest.validate import decode_report
    from estate.collector.store.database import Incoming, prepare

    received = dt.datetime.now(dt.timezone.utc)
    data = [encode_report(daily(template, a, 0)) for a in range(assets)]

    def run() -> tuple[float, float]:
        started, cpu = time.perf_counter(), time.thread_time()
        for message in data:  # look-alike hosts, as in the end-to-end runs: their list is numbered already
            prepare(Incoming(decode_report(message), data=message), received, "grpc", numbered=lambda key: True)
        return (time.perf_counter() - started) / assets, (time.thread_time() - cpu) / assets

    stop = threading.Event()

    def other_python() -> None:  # stands for the writer's Python and the event loop
        while not stop.is_set():
            [str(n) for n in range(1_000)]

    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.001)  # as `serve` sets it
    try:
        run()  # warm
        alone_wall, alone_cpu = run()
        other = threading.Thread(target=other_python)
        other.start()
        try:
            shared_wall, shared_cpu = run()
        finally:
            stop.set()
            other.join()
    finally:
        sys.setswitchinterval(interval)
    print(f"checking and flattening a first-seen report ({assets} reports, `prepare` in a loop): alone "
          f"{alone_cpu * 1e3:.2f} ms of CPU ({alone_wall * 1e3:.2f} ms wall); while one other Python thread "
          f"runs {shared_cpu * 1e3:.2f} ms of CPU ({shared_wall * 1e3:.2f} ms wall): {shared_cpu / alone_cpu:.1f}x "
          f"the CPU for the same work")


def main(assets: int = ASSETS) -> None:
    template = build_report(LocalHost(), pb.METHOD_LOCAL, {"org": "bench"})
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        ingest(template, assets, tmp)
        writer_alone(template, assets, tmp)
        flattening_contended(template, CONTENDED_ASSETS)
        print("rescans of the same assets:")
        rescans(template, assets, tmp)
        storage(template, STORAGE_ASSETS, tmp)
        reads(template, HISTORY_ASSETS, tmp)
        huge_report(tmp)


def storage_only(assets: int = STORAGE_ASSETS) -> None:
    template = build_report(LocalHost(), pb.METHOD_LOCAL, {"org": "bench"})
    with tempfile.TemporaryDirectory() as name:
        storage(template, assets, Path(name))


if __name__ == "__main__":
    if sys.argv[1:2] == ["storage"]:
        storage_only(*(int(a) for a in sys.argv[2:3]))
    elif sys.argv[1:2] == ["contention"]:
        flattening_contended(build_report(LocalHost(), pb.METHOD_LOCAL, {"org": "bench"}),
                             int(sys.argv[2]) if sys.argv[2:3] else CONTENDED_ASSETS)
    elif sys.argv[1:2] == ["writer"]:
        with tempfile.TemporaryDirectory() as name:
            writer_alone(build_report(LocalHost(), pb.METHOD_LOCAL, {"org": "bench"}),
                         int(sys.argv[2]) if sys.argv[2:3] else ASSETS, Path(name))
    else:
        main(*(int(a) for a in sys.argv[1:2]))
