"""Sandboxed SQL through `estate-collector sql` and the Query RPC: what it answers, what it refuses and why."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pyarrow as pa
import pytest

from estate.agent import transport
from estate.collector.process import CollectorProcess, start_collector
from estate.collector.read.client import QUERY_METHOD, RemoteError, fetch_snapshot, run_query
from estate.collector.read.sandbox import LimitReached, Limits, Refused, run_sql
from estate.collector.server import MAX_CONCURRENT_QUERIES
from estate.collector.store.database import Store
from estate.collector.store.snapshot import default_snapshot_path, snapshot_file
from estate.v1 import query_pb2 as query_pb

from .estate_seed import estate_counts, estate_reports, seeded_estate

COLLECTOR_CLI = [sys.executable, "-m", "estate.collector.cli"]
# Each escape, and a word the refusal must contain (the statement, the function or the limit).
ESCAPES = [
    ("SELECT * FROM read_csv('/etc/passwd')", "read_csv()"),
    ("SELECT * FROM read_text('/etc/passwd')", "read_text()"),
    ("SELECT * FROM '/etc/passwd'", "reading the file '/etc/passwd'"),
    ("SELECT * FROM 'data.csv'", "reading the file 'data.csv'"),
    ("COPY reports TO '/tmp/stolen.csv'", "COPY statements"),
    ("ATTACH '/tmp/other.duckdb' AS other", "ATTACH statements"),
    ("INSTALL httpfs", "INSTALL statements"),
    ("LOAD httpfs", "LOAD statements"),
    ("SET enable_external_access = true", "SET statements"),
    ("PRAGMA threads = 64", "PRAGMA statements"),
    ("SELECT * FROM query('SELECT 1')", "query()"),
    ("SELECT 1; SELECT 2", "one SELECT at a time"),
    # Either limit may stop it first (the product's right side is built in memory, or time runs out).
    ("SELECT count(*) FROM range(1e9::BIGINT) a, range(1e9::BIGINT) b", "limit of"),
    ("SELECT count(*) FROM range(1e12::BIGINT) WHERE range % 7 = 3", "time limit of 2 s"),
    ("SELECT * FROM range(3000000000)", "limit of 1000 rows"),
]


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("sandbox")
    seeded_estate(tmp / "estate.duckdb").close()
    return snapshot_file(tmp / "estate.duckdb", default_snapshot_path(tmp / "estate.duckdb")).path


def test_a_select_on_the_snapshot_and_the_views(snapshot: Path) -> None:
    table = run_sql(snapshot, "SELECT count(*) AS n FROM reports")
    assert table.to_pylist() == [{"n": estate_counts()["reports"]}]
    eol = run_sql(snapshot, "SELECT DISTINCT hostname FROM eol_before(DATE '2027-03-31') ORDER BY 1")
    assert "fin-dc1" in eol.column("hostname").to_pylist()


@pytest.mark.parametrize(("sql", "named"), ESCAPES, ids=[e[0][:40] for e in ESCAPES])
def test_escapes_are_refused_by_name(snapshot: Path, sql: str, named: str) -> None:
    with pytest.raises(Refused) as caught:
        run_sql(snapshot, sql, Limits(seconds=2, max_rows=1000))
    message = str(caught.value)
    assert named in message and "\n" not in message


def test_memory_limit_is_named(snapshot: Path) -> None:
    with pytest.raises(LimitReached, match="memory limit of 64MB"):
        run_sql(snapshot, "SELECT list(i) FROM range(100000000) r(i)", Limits(memory_limit="64MB"))


def test_no_snapshot_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(Refused, match="no snapshot at"):
        run_sql(tmp_path / "missing.duckdb", "SELECT 1")


def test_sql_command_formats_and_refusals(snapshot: Path, tmp_path: Path) -> None:
    def sql(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*COLLECTOR_CLI, "sql", "--snapshot", str(snapshot), *args], capture_output=True,
                              text=True, timeout=120)

    table = sql("SELECT hostname, os FROM finding_details WHERE product = 'windows-server' ORDER BY 1")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == ["hostname", "os"] and "fin-dc1" in table.stdout
    csv = sql("SELECT count(*) AS n FROM reports", "--format", "csv")
    assert csv.stdout.splitlines() == ['"n"', str(estate_counts()["reports"])]
    out = tmp_path / "r.parquet"
    parquet = sql("SELECT * FROM system_risk", "--format", "parquet", "--out", str(out))
    assert parquet.returncode == 0, parquet.stderr
    import pyarrow.parquet as pq

    assert pq.read_table(out).num_rows == 5
    for statement, named in ESCAPES[:12]:
        refused = sql(statement)
        assert refused.returncode == 1 and named in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    rows = sql("SELECT * FROM range(3000000000)", "--max-rows", "10")
    assert rows.returncode == 1 and "limit of 10 rows" in rows.stderr


# --- the Query RPC over mTLS ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    for argv in (["init"], ["issue", "--name", "collector", "--role", "collector", "--host", "127.0.0.1"],
                 ["issue", "--name", "agent1", "--role", "agent"], ["issue", "--name", "alice", "--role", "analyst"],
                 ["issue", "--name", "gds", "--role", "gds"]):
        subprocess.run([*COLLECTOR_CLI, "certs", argv[0], "--dir", str(directory), *argv[1:]], check=True,
                       capture_output=True)
    return directory


def files(pki: Path, name: str) -> transport.TlsFiles:
    return transport.TlsFiles(pki / "ca.pem", pki / f"{name}.pem", pki / f"{name}.key")


@pytest.fixture(scope="module")
def tls_collector(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[CollectorProcess]:
    tmp = tmp_path_factory.mktemp("served")
    # The estate is loaded as files from many hosts would be (one agent certificate may report only its
    # own asset), then served over mTLS.
    store = Store(tmp / "estate.duckdb")
    try:
        assert {o.status for o in store.write_reports(estate_reports(), via="file")} == {"ACCEPTED"}
    finally:
        store.close()
    proc = start_collector(tmp / "estate.duckdb", tmp / "collector.log", [
        "--tls-cert", str(pki / "collector.pem"), "--tls-key", str(pki / "collector.key"),
        "--tls-ca", str(pki / "ca.pem"), "--snapshot-every", "0"])
    try:
        # An on-demand snapshot with the collector's certificate; Query reads the snapshot it leaves.
        fetch_snapshot(proc.address, files(pki, "collector"), tmp / "copy.duckdb")
        yield proc
    finally:
        proc.stop()


@pytest.mark.integration
def test_query_rpc_streams_arrow_to_an_analyst(tls_collector: CollectorProcess, pki: Path) -> None:
    table, taken = run_query(tls_collector.address, files(pki, "alice"),
                             "SELECT count(*) AS n, count(DISTINCT asset_id) AS assets FROM reports")
    assert isinstance(table, pa.Table) and taken.endswith("Z")
    assert table.to_pylist() == [{"n": estate_counts()["reports"], "assets": estate_counts()["assets"]}]
    many, _ = run_query(tls_collector.address, files(pki, "alice"), "SELECT * FROM range(50000)")
    assert many.num_rows == 50000 and many.to_batches()[0].num_rows < 50000  # sent in batches


@pytest.mark.integration
@pytest.mark.parametrize("role", ["agent1", "gds", "collector"])
def test_query_rpc_refuses_other_roles(tls_collector: CollectorProcess, pki: Path, role: str) -> None:
    with pytest.raises(RemoteError, match="may not query; Query needs a client certificate with role 'analyst'"):
        run_query(tls_collector.address, files(pki, role), "SELECT 1")


@pytest.mark.integration
@pytest.mark.parametrize(("sql", "named"), ESCAPES[:12], ids=[e[0][:40] for e in ESCAPES[:12]])
def test_query_rpc_refuses_escapes(tls_collector: CollectorProcess, pki: Path, sql: str, named: str) -> None:
    with pytest.raises(RemoteError) as caught:
        run_query(tls_collector.address, files(pki, "alice"), sql)
    assert named in str(caught.value)


@pytest.mark.integration
def test_query_rpc_limits(tls_collector: CollectorProcess, pki: Path) -> None:
    with pytest.raises(RemoteError, match="more than the limit of 10 rows"):
        run_query(tls_collector.address, files(pki, "alice"), "SELECT * FROM range(3000000000)", max_rows=10)
    with pytest.raises(RemoteError, match="limit of"):
        run_query(tls_collector.address, files(pki, "alice"),
                  "SELECT count(*) FROM range(1e9::BIGINT) a, range(1e9::BIGINT) b")
    with pytest.raises(RemoteError, match="time limit of 10 s"):
        run_query(tls_collector.address, files(pki, "alice"), "SELECT count(*) FROM range(1e12::BIGINT)")


@pytest.mark.integration
def test_a_refusal_after_the_schema_always_reaches_the_caller(tls_collector: CollectorProcess, pki: Path) -> None:
    """Over the row limit, the refusal comes just after the schema reply. On gRPC's asyncio server a plain
    generator's abort could meet that reply still being sent (GRPC_CALL_ERROR_TOO_MANY_OPERATIONS): the
    refusal was lost and the caller waited for its deadline, about one query in 14 on this machine."""
    for _ in range(100):
        with pytest.raises(RemoteError, match="more than the limit of 10 rows"):
            run_query(tls_collector.address, files(pki, "alice"), "SELECT * FROM range(3000000000)", max_rows=10,
                      timeout_s=10)
    assert "TOO_MANY_OPERATIONS" not in tls_collector.log.read_text()


@pytest.mark.integration
def test_a_caller_leaving_mid_query_frees_its_slot(tls_collector: CollectorProcess, pki: Path) -> None:
    """Callers that hang up after the first batch, more of them than queries may run at once: each stops
    its query and frees its slot, so the next caller is answered."""
    def busy(exc: BaseException) -> bool:
        return "queries are running already" in str(exc)

    with transport.open_channel(tls_collector.address, files(pki, "alice")) as channel:
        call = channel.unary_stream(QUERY_METHOD, request_serializer=query_pb.QueryRequest.SerializeToString,
                                    response_deserializer=query_pb.QueryReply.FromString)
        for _ in range(2 * MAX_CONCURRENT_QUERIES + 1):
            # A slot comes back once the server has seen the hang-up and DuckDB has stopped: moments, not
            # the query's 10 s limit (before, hung-up callers kept their slots far longer).
            deadline = time.monotonic() + 5
            while True:
                replies = call(query_pb.QueryRequest(sql="SELECT * FROM range(1e12::BIGINT)"), timeout=60)
                try:
                    assert next(replies).WhichOneof("part") == "arrow_schema"
                    break
                except grpc.RpcError as exc:
                    assert busy(exc) and time.monotonic() < deadline, exc
                    time.sleep(0.05)
            assert next(replies).WhichOneof("part") == "arrow_batch"
            replies.cancel()
    deadline = time.monotonic() + 5
    while True:
        try:
            table, _ = run_query(tls_collector.address, files(pki, "alice"), "SELECT 42 AS answer")
            break
        except RemoteError as exc:
            assert busy(exc) and time.monotonic() < deadline, exc
            time.sleep(0.05)
    assert table.to_pylist() == [{"answer": 42}]


@pytest.mark.integration
def test_admin_snapshot_refuses_agents_and_analysts(tls_collector: CollectorProcess, pki: Path,
                                                   tmp_path: Path) -> None:
    for name in ("agent1", "alice", "gds"):
        with pytest.raises(RemoteError, match="may not take snapshots"):
            fetch_snapshot(tls_collector.address, files(pki, name), tmp_path / "x.duckdb")
    assert not list(tmp_path.iterdir())


@pytest.mark.integration
def test_query_rpc_needs_mtls(tmp_path: Path) -> None:
    """In plaintext (loopback) there is no certificate, so no analyst: Query is refused, snapshots are not."""
    proc = start_collector(tmp_path / "estate.duckdb", tmp_path / "collector.log", ["--snapshot-every", "0"])
    try:
        fetch_snapshot(proc.address, None, tmp_path / "copy.duckdb")
        with pytest.raises(RemoteError, match="no client certificate"):
            run_query(proc.address, None, "SELECT 1")
    finally:
        proc.stop()
