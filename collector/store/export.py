"""Exports for tools beyond DuckDB: Parquet (hive-partitioned by org and scan date), CSV, JSON lines.

Everything is written by DuckDB's own `COPY ... TO` from a snapshot file (never the live store), into
a new folder beside the destination that is renamed into place when complete, so a reader never
sees half an export.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

FORMATS = ("parquet", "csv", "json")
# Dataset name -> query. Those with org and scan_date columns are partitioned by them in Parquet.
_ORG_AND_DATE = ("element_at(r.labels, 'org')[1] AS org, CAST(r.collected_at AT TIME ZONE 'UTC' AS DATE) "
                 "AS scan_date")
# Each asset's effective labels (ownership rules, vocabulary-checked: current_asset_labels), as scoring
# and the report read them; the agent's own labels only for an asset whose labels were never resolved.
_LABELLED = ("(SELECT r.* REPLACE (coalesce(l.labels, r.labels) AS labels) FROM current_reports r "
             "LEFT JOIN current_asset_labels l USING (asset_id))")
_PART_OF_ASSET = ("SELECT t.*, " + _ORG_AND_DATE + " FROM current_{part} t JOIN " + _LABELLED  # noqa: S608
                  + " r USING (report_id)")
DATASETS: dict[str, str] = {
    "assets": "SELECT r.* EXCLUDE (labels), map_entries(r.labels) AS labels, " + _ORG_AND_DATE  # noqa: S608
              + " FROM " + _LABELLED + " r",
    "findings": "SELECT d.* EXCLUDE (labels, org, system, environment, owner, criticality), "  # noqa: S608
                + ", ".join(f"element_at(r.labels, '{k}')[1] AS {k}" for k in ("system", "environment", "owner",
                                                                                "criticality"))
                + ", map_entries(r.labels) AS labels, element_at(r.labels, 'org')[1] AS org, "
                "CAST(d.collected_at AT TIME ZONE 'UTC' AS DATE) AS scan_date FROM finding_details d "
                "JOIN " + _LABELLED + " r USING (asset_id)",
    "packages": _PART_OF_ASSET.format(part="packages"),
    "software": _PART_OF_ASSET.format(part="software"),
    "listeners": _PART_OF_ASSET.format(part="listeners"),
    "asset_risk": "SELECT * FROM asset_risk",
    "system_risk": "SELECT * FROM system_risk",
    "risk_criteria": "SELECT * FROM risk_criteria",
}
PARTITIONED = ("assets", "findings", "packages", "software", "listeners")


class ExportError(Exception):
    """An export could not be written; the message names the folder and the reason."""


@dataclass(frozen=True)
class Exported:
    dataset: str
    rows: int
    path: Path


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def export(snapshot: Path, out: Path, fmt: str) -> list[Exported]:
    """Write every dataset of the snapshot into the new folder `out` in `fmt`; refuses an existing `out`."""
    if fmt not in FORMATS:
        raise ExportError(f"format {fmt!r}: one of {', '.join(FORMATS)}")
    if out.exists():
        raise ExportError(f"{out} already exists: give a new folder (an export is never mixed with an older one)")
    if not out.parent.is_dir():
        raise ExportError(f"{out.parent}: no such folder")
    staging = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    staging.mkdir()
    con = duckdb.connect(":memory:")
    done: list[Exported] = []
    try:
        con.execute(f"ATTACH {_sql_string(str(snapshot.absolute()))} AS snap (READ_ONLY)")
        con.execute("USE snap")
        for name, query in DATASETS.items():
            rows = con.execute(f"SELECT count(*) FROM ({query})").fetchone()  # noqa: S608
            count = int(rows[0]) if rows else 0
            if fmt == "parquet" and name in PARTITIONED:
                target = staging / name
                options = "FORMAT parquet, PARTITION_BY (org, scan_date)"
                query = (f"SELECT * REPLACE (coalesce(org, 'unlabelled') AS org) FROM ({query})")  # noqa: S608
            elif fmt == "parquet":
                target, options = staging / f"{name}.parquet", "FORMAT parquet"
            elif fmt == "csv":
                target, options = staging / f"{name}.csv", "FORMAT csv, HEADER true"
            else:
                target, options = staging / f"{name}.jsonl", "FORMAT json"
            if fmt == "parquet" and name in PARTITIONED and count == 0:
                target.mkdir()  # an empty dataset is an empty folder, not a missing one
            else:
                con.execute(f"COPY ({query}) TO {_sql_string(str(target))} ({options})")
            done.append(Exported(name, count, out / target.name))
        con.close()
        staging.rename(out)
    except (duckdb.Error, OSError) as exc:
        con.close()
        shutil.rmtree(staging, ignore_errors=True)
        raise ExportError(f"{out}: export failed: {str(exc).splitlines()[0]}") from exc
    return done
