-- History by change, not by time (issue 9). An asset's packages, software, listeners, interfaces,
-- disks and device become intervals: the first report that showed a row and, once gone, the last
-- report that still showed it. An unchanged rescan writes its report header and nothing else; a
-- change writes only the rows that appeared and closes those that went. "Current" is the open
-- intervals. Existing per-report rows are converted here (gaps and islands per asset).

DROP VIEW current_packages;
DROP VIEW current_software;
DROP VIEW current_listeners;
DROP VIEW current_interfaces;
DROP VIEW current_devices;
DROP VIEW current_reports;

ALTER TABLE reports ADD COLUMN sender VARCHAR;
ALTER TABLE reports ADD COLUMN sha256 VARCHAR;
ALTER TABLE reports ADD COLUMN in_history BOOLEAN DEFAULT true;
UPDATE reports SET sender = received_via WHERE sender IS NULL;

-- Each asset's reports in the order "current" has always used: by collected_at, then received_at,
-- then report_id (the last one is current).
CREATE TEMP TABLE report_order AS
SELECT report_id, asset_id, collected_at, received_at,
       row_number() OVER (PARTITION BY asset_id ORDER BY collected_at, received_at, report_id DESC) AS rn,
       count(*) OVER (PARTITION BY asset_id) AS reports
FROM reports;

CREATE SEQUENCE store_commits START 1;

CREATE TABLE asset_state (
    asset_id VARCHAR PRIMARY KEY,
    report_id VARCHAR NOT NULL,
    collected_at TIMESTAMPTZ NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    first_report_id VARCHAR NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL,
    reports BIGINT NOT NULL,
    changed_commit BIGINT NOT NULL,
    packages_hash BLOB,
    software_hash BLOB,
    listeners_hash BLOB,
    interfaces_hash BLOB,
    disks_hash BLOB,
    devices_hash BLOB
);

INSERT INTO asset_state
SELECT c.asset_id, c.report_id, c.collected_at, c.received_at, f.report_id, f.collected_at, c.reports, 0,
       NULL, NULL, NULL, NULL, NULL, NULL
FROM report_order c JOIN report_order f ON f.asset_id = c.asset_id AND f.rn = 1
WHERE c.rn = c.reports;

-- packages ---------------------------------------------------------------------------------------
ALTER TABLE packages RENAME TO packages_0002;
CREATE TABLE packages_current (
    asset_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    architecture VARCHAR,
    manager VARCHAR NOT NULL,
    source VARCHAR,
    found_by VARCHAR,
    evidence VARCHAR,
    origin VARCHAR,
    maintainer VARCHAR,
    distribution VARCHAR,
    component VARCHAR,
    first_report_id VARCHAR NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL
);
CREATE TABLE packages_history (
    asset_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    architecture VARCHAR,
    manager VARCHAR NOT NULL,
    source VARCHAR,
    found_by VARCHAR,
    evidence VARCHAR,
    origin VARCHAR,
    maintainer VARCHAR,
    distribution VARCHAR,
    component VARCHAR,
    first_report_id VARCHAR NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL,
    last_report_id VARCHAR NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    ended_at TIMESTAMPTZ NOT NULL
);
CREATE TEMP TABLE packages_spans AS
WITH present AS (
    SELECT DISTINCT o.asset_id, o.rn, t.name, t.version, t.architecture, t.manager, t.source, t.found_by, t.evidence
    FROM packages_0002 t JOIN report_order o USING (report_id)
), islands AS (
    SELECT *, rn - row_number() OVER (PARTITION BY asset_id, name, version, architecture, manager, source,
                                      found_by, evidence ORDER BY rn) AS island
    FROM present
), spans AS (
    SELECT asset_id, name, version, architecture, manager, source, found_by, evidence,
           island, min(rn) AS first_rn, max(rn) AS last_rn
    FROM islands GROUP BY ALL
)
SELECT s.asset_id, s.name, s.version, s.architecture, s.manager, s.source, s.found_by, s.evidence,
       f.report_id AS first_report_id, f.collected_at AS first_seen,
       l.report_id AS last_report_id, l.collected_at AS last_seen,
       n.collected_at AS ended_at, n.report_id IS NULL AS open
FROM spans s
JOIN report_order f ON f.asset_id = s.asset_id AND f.rn = s.first_rn
JOIN report_order l ON l.asset_id = s.asset_id AND l.rn = s.last_rn
LEFT JOIN report_order n ON n.asset_id = s.asset_id AND n.rn = s.last_rn + 1
ORDER BY s.asset_id, s.first_rn;
-- BY NAME: the columns issue 12 added (origin, maintainer, distribution, component) were not kept before.
INSERT INTO packages_current BY NAME SELECT * EXCLUDE (last_report_id, last_seen, ended_at, open) FROM packages_spans WHERE open;
INSERT INTO packages_history BY NAME SELECT * EXCLUDE (open) FROM packages_spans WHERE NOT open;
DROP TABLE packages_spans;
DROP TABLE packages_0002;
CREATE VIEW packages AS
    SELECT *, NULL::VARCHAR AS last_report_id, NULL::TIMESTAMPTZ AS last_seen, NULL::TIMESTAMPTZ AS ended_at,
           true AS open FROM packages_current
    UNION ALL BY NAME
    SELECT *, false AS open FROM packages_history;

-- software ---------------------------------------------------------------------------------------
ALTER TABLE software RENAME TO software_0002;
CREATE TABLE software_current (
    asset_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    version VARCHAR,
    vendor VARCHAR,
    path VARCHAR,
    found_by VARCHAR,
    evidence VARCHAR,
    first_report_id VARCHAR NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL
);
CREATE TABLE software_history (
    asset_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    version VARCHAR,
    vendor VARCHAR,
    path VARCHAR,
    found_by VARCHAR,
    evidence VARCHAR,
    first_report_id VARCHAR NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL,
    last_report_id VARCHAR NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    ended_at TIMESTAMPTZ NOT NULL
);
CREATE TEMP TABLE software_spans AS
WITH present AS (
    SELECT DISTINCT o.asset_id, o.rn, t.name, t.version, t.vendor, t.path, t.found_by, t.evidence
    FROM software_0002 t JOIN report_order o USING (report_id)
), islands AS (
    SELECT *, rn - row_number() OVER (PARTITION BY asset_id, name, version, vendor, path, found_by, evidence
                                      ORDER BY rn) AS island
    FROM present
), spans AS (
    SELECT asset_id, name, version, vendor, path, found_by, evidence, island, min(rn) AS first_rn, max(rn) AS last_rn
    FROM islands GROUP BY ALL
)
SELECT s.asset_id, s.name, s.version, s.vendor, s.path, s.found_by, s.evidence,
       f.report_id AS first_report_id, f.collected_at AS first_seen,
       l.report_id AS last_report_id, l.collected_at AS last_seen,
       n.collected_at AS ended_at, n.report_id IS NULL AS open
FROM spans s
JOIN report_order f ON f.asset_id = s.asset_id AND f.rn = s.first_rn
JOIN report_order l ON l.asset_id = s.asset_id AND l.rn = s.last_rn
LEFT JOIN report_order n ON n.asset_id = s.asset_id AND n.rn = s.last_rn + 1
ORDER BY s.asset_id, s.first_rn;
INSERT INTO software_current SELECT * EXCLUDE (last_report_id, last_seen, ended_at, open) FROM software_spans WHERE open;
INSERT INTO software_history SELECT * EXCLUDE (open) FROM software_spans WHERE NOT open;
DROP TABLE software_spans;
DROP TABLE software_0002;
CREATE VIEW software AS
    SELECT *, NULL::VARCHAR AS last_report_id, NULL::TIMESTAMPTZ AS last_seen, NULL::TIMESTAMPTZ AS ended_at,
           true AS open FROM software_current
    UNION ALL BY NAME
    SELECT *, false AS open FROM software_history;

-- listeners --------------------------------------------------------------------------------------
ALTER TABLE listeners RENAME TO listeners_0002;
CREATE TABLE listeners_current (
    asset_id VARCHAR NOT NULL,
    protocol VARCHAR,
    address VARCHAR,
    port INTEGER,
    pid INTEGER,
    process VARCHAR,
    exposed BOOLEAN,
    found_by VARCHAR,
    evidence VARCHAR,
    first_report_id VARCHAR NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL
);
CREATE TABLE listeners_history (
    asset_id VARCHAR NOT NULL,
    protocol VARCHAR,
    address VARCHAR,
    port INTEGER,
    pid INTEGER,
    process VARCHAR,
    exposed BOOLEAN,
    found_by VARCHAR,
    evidence VARCHAR,
    first_report_id VARCHAR NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL,
    last_report_id VARCHAR NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    ended_at TIMESTAMPTZ NOT NULL
);
CREATE TEMP TABLE listeners_spans AS
WITH present AS (
    SELECT DISTINCT o.asset_id, o.rn, t.protocol, t.address, t.port, t.pid, t.process, t.exposed, t.found_by,
           t.evidence
    FROM listeners_0002 t JOIN report_order o USING (report_id)
), islands AS (
    SELECT *, rn - row_number() OVER (PARTITION BY asset_id, protocol, address, port, pid, process, exposed,
                                      found_by, evidence ORDER BY rn) AS island
    FROM present
), spans AS (
    SELECT asset_id, protocol, address, port, pid, process, exposed, found_by, evidence,
           island, min(rn) AS first_rn, max(rn) AS last_rn
    FROM islands GROUP BY ALL
)
SELECT s.asset_id, s.protocol, s.address, s.port, s.pid, s.process, s.exposed, s.found_by, s.evidence,
       f.report_id AS first_report_id, f.collected_at AS first_seen,
       l.report_id AS last_report_id, l.collected_at AS last_seen,
       n.collected_at AS ended_at, n.report_id IS NULL AS open
FROM spans s
JOIN report_order f ON f.asset_id = s.asset_id AND f.rn = s.first_rn
JOIN report_order l ON l.asset_id = s.asset_id AND l.rn = s.last_rn
LEFT JOIN report_order n ON n.asset_id = s.asset_id AND n.rn = s.last_rn + 1
ORDER BY s.asset_id, s.first_rn;
INSERT INTO listeners_current SELECT * EXCLUDE (last_report_id, last_seen, ended_at, open) FROM listeners_spans WHERE open;
INSERT INTO listeners_history SELECT * EXCLUDE (open) FROM listeners_spans WHERE NOT open;
DROP TABLE listeners_spans;
DROP TABLE listeners_0002;
CREATE VIEW listeners AS
    SELECT *, NULL::VARCHAR AS last_report_id, NULL::TIMESTAMPTZ AS last_seen, NULL::TIMESTAMPTZ AS ended_at,
           true AS open FROM listeners_current
    UNION ALL BY NAME
    SELECT *, false AS open FROM listeners_history;

-- interfaces -------------------------------------------------------------------------------------
ALTER TABLE interfaces RENAME TO interfaces_0002;
CREATE TABLE interfaces_current (
    asset_id VARCHAR NOT NULL,
    name VARCHAR,
    mac VARCHAR,
    addresses VARCHAR[],
    first_report_id VARCHAR NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL
);
CREATE TABLE interfaces_history (
    asset_id VARCHAR NOT NULL,
    name VARCHAR,
    mac VARCHAR,
    addresses VARCHAR[],
    first_report_id VARCHAR NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL,
    last_report_id VARCHAR NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    ended_at TIMESTAMPTZ NOT NULL
);
CREATE TEMP TABLE interfaces_spans AS
WITH present AS (
    SELECT DISTINCT o.asset_id, o.rn, t.name, t.mac, t.addresses
    FROM interfaces_0002 t JOIN report_order o USING (report_id)
), islands AS (
    SELECT *, rn - row_number() OVER (PARTITION BY asset_id, name, mac, addresses ORDER BY rn) AS island
    FROM present
), spans AS (
    SELECT asset_id, name, mac, addresses, island, min(rn) AS first_rn, max(rn) AS last_rn FROM islands GROUP BY ALL
)
SELECT s.asset_id, s.name, s.mac, s.addresses,
       f.report_id AS first_report_id, f.collected_at AS first_seen,
       l.report_id AS last_report_id, l.collected_at AS last_seen,
       n.collected_at AS ended_at, n.report_id IS NULL AS open
FROM spans s
JOIN report_order f ON f.asset_id = s.asset_id AND f.rn = s.first_rn
JOIN report_order l ON l.asset_id = s.asset_id AND l.rn = s.last_rn
LEFT JOIN report_order n ON n.asset_id = s.asset_id AND n.rn = s.last_rn + 1
ORDER BY s.asset_id, s.first_rn;
INSERT INTO interfaces_current SELECT * EXCLUDE (last_report_id, last_seen, ended_at, open) FROM interfaces_spans WHERE open;
INSERT INTO interfaces_history SELECT * EXCLUDE (open) FROM interfaces_spans WHERE NOT open;
DROP TABLE interfaces_spans;
DROP TABLE interfaces_0002;
CREATE VIEW interfaces AS
    SELECT *, NULL::VARCHAR AS last_report_id, NULL::TIMESTAMPTZ AS last_seen, NULL::TIMESTAMPTZ AS ended_at,
           true AS open FROM interfaces_current
    UNION ALL BY NAME
    SELECT *, false AS open FROM interfaces_history;

-- disks ------------------------------------------------------------------------------------------
ALTER TABLE disks RENAME TO disks_0002;
CREATE TABLE disks_current (
    asset_id VARCHAR NOT NULL,
    device VARCHAR,
    mountpoint VARCHAR,
    fstype VARCHAR,
    total_bytes UBIGINT,
    first_report_id VARCHAR NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL
);
CREATE TABLE disks_history (
    asset_id VARCHAR NOT NULL,
    device VARCHAR,
    mountpoint VARCHAR,
    fstype VARCHAR,
    total_bytes UBIGINT,
    first_report_id VARCHAR NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL,
    last_report_id VARCHAR NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    ended_at TIMESTAMPTZ NOT NULL
);
CREATE TEMP TABLE disks_spans AS
WITH present AS (
    SELECT DISTINCT o.asset_id, o.rn, t.device, t.mountpoint, t.fstype, t.total_bytes
    FROM disks_0002 t JOIN report_order o USING (report_id)
), islands AS (
    SELECT *, rn - row_number() OVER (PARTITION BY asset_id, device, mountpoint, fstype, total_bytes
                                      ORDER BY rn) AS island
    FROM present
), spans AS (
    SELECT asset_id, device, mountpoint, fstype, total_bytes, island, min(rn) AS first_rn, max(rn) AS last_rn
    FROM islands GROUP BY ALL
)
SELECT s.asset_id, s.device, s.mountpoint, s.fstype, s.total_bytes,
       f.report_id AS first_report_id, f.collected_at AS first_seen,
       l.report_id AS last_report_id, l.collected_at AS last_seen,
       n.collected_at AS ended_at, n.report_id IS NULL AS open
FROM spans s
JOIN report_order f ON f.asset_id = s.asset_id AND f.rn = s.first_rn
JOIN report_order l ON l.asset_id = s.asset_id AND l.rn = s.last_rn
LEFT JOIN report_order n ON n.asset_id = s.asset_id AND n.rn = s.last_rn + 1
ORDER BY s.asset_id, s.first_rn;
INSERT INTO disks_current SELECT * EXCLUDE (last_report_id, last_seen, ended_at, open) FROM disks_spans WHERE open;
INSERT INTO disks_history SELECT * EXCLUDE (open) FROM disks_spans WHERE NOT open;
DROP TABLE disks_spans;
DROP TABLE disks_0002;
CREATE VIEW disks AS
    SELECT *, NULL::VARCHAR AS last_report_id, NULL::TIMESTAMPTZ AS last_seen, NULL::TIMESTAMPTZ AS ended_at,
           true AS open FROM disks_current
    UNION ALL BY NAME
    SELECT *, false AS open FROM disks_history;

-- devices ----------------------------------------------------------------------------------------
ALTER TABLE devices RENAME TO devices_0002;
CREATE TABLE devices_current (
    asset_id VARCHAR NOT NULL,
    vendor VARCHAR,
    model VARCHAR,
    serial VARCHAR,
    os VARCHAR,
    version VARCHAR,
    sys_descr VARCHAR,
    sys_object_id VARCHAR,
    sys_name VARCHAR,
    sys_contact VARCHAR,
    sys_location VARCHAR,
    engine_id VARCHAR,
    hardware_revision VARCHAR,
    firmware_revision VARCHAR,
    evidence MAP(VARCHAR, VARCHAR),
    found_by VARCHAR,
    first_report_id VARCHAR NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL
);
CREATE TABLE devices_history (
    asset_id VARCHAR NOT NULL,
    vendor VARCHAR,
    model VARCHAR,
    serial VARCHAR,
    os VARCHAR,
    version VARCHAR,
    sys_descr VARCHAR,
    sys_object_id VARCHAR,
    sys_name VARCHAR,
    sys_contact VARCHAR,
    sys_location VARCHAR,
    engine_id VARCHAR,
    hardware_revision VARCHAR,
    firmware_revision VARCHAR,
    evidence MAP(VARCHAR, VARCHAR),
    found_by VARCHAR,
    first_report_id VARCHAR NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL,
    last_report_id VARCHAR NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    ended_at TIMESTAMPTZ NOT NULL
);
CREATE TEMP TABLE devices_spans AS
WITH present AS (
    SELECT DISTINCT o.asset_id, o.rn, t.vendor, t.model, t.serial, t.os, t.version, t.sys_descr, t.sys_object_id,
           t.sys_name, t.sys_contact, t.sys_location, t.engine_id, t.hardware_revision, t.firmware_revision,
           t.evidence, t.found_by
    FROM devices_0002 t JOIN report_order o USING (report_id)
), islands AS (
    SELECT *, rn - row_number() OVER (PARTITION BY asset_id, vendor, model, serial, os, version, sys_descr,
                                      sys_object_id, sys_name, sys_contact, sys_location, engine_id,
                                      hardware_revision, firmware_revision, evidence, found_by
                                      ORDER BY rn) AS island
    FROM present
), spans AS (
    SELECT asset_id, vendor, model, serial, os, version, sys_descr, sys_object_id, sys_name, sys_contact,
           sys_location, engine_id, hardware_revision, firmware_revision, evidence, found_by,
           island, min(rn) AS first_rn, max(rn) AS last_rn
    FROM islands GROUP BY ALL
)
SELECT s.asset_id, s.vendor, s.model, s.serial, s.os, s.version, s.sys_descr, s.sys_object_id, s.sys_name,
       s.sys_contact, s.sys_location, s.engine_id, s.hardware_revision, s.firmware_revision, s.evidence,
       s.found_by,
       f.report_id AS first_report_id, f.collected_at AS first_seen,
       l.report_id AS last_report_id, l.collected_at AS last_seen,
       n.collected_at AS ended_at, n.report_id IS NULL AS open
FROM spans s
JOIN report_order f ON f.asset_id = s.asset_id AND f.rn = s.first_rn
JOIN report_order l ON l.asset_id = s.asset_id AND l.rn = s.last_rn
LEFT JOIN report_order n ON n.asset_id = s.asset_id AND n.rn = s.last_rn + 1
ORDER BY s.asset_id, s.first_rn;
INSERT INTO devices_current SELECT * EXCLUDE (last_report_id, last_seen, ended_at, open) FROM devices_spans WHERE open;
INSERT INTO devices_history SELECT * EXCLUDE (open) FROM devices_spans WHERE NOT open;
DROP TABLE devices_spans;
DROP TABLE devices_0002;
CREATE VIEW devices AS
    SELECT *, NULL::VARCHAR AS last_report_id, NULL::TIMESTAMPTZ AS last_seen, NULL::TIMESTAMPTZ AS ended_at,
           true AS open FROM devices_current
    UNION ALL BY NAME
    SELECT *, false AS open FROM devices_history;

DROP TABLE report_order;

-- Current: the open intervals, with the asset's current report (asset_state) as their report_id.
CREATE VIEW current_reports AS
    SELECT r.* FROM reports r SEMI JOIN asset_state s USING (report_id);
CREATE VIEW current_packages AS
    SELECT s.report_id, t.* FROM packages_current t JOIN asset_state s USING (asset_id);
CREATE VIEW current_software AS
    SELECT s.report_id, t.* FROM software_current t JOIN asset_state s USING (asset_id);
CREATE VIEW current_listeners AS
    SELECT s.report_id, t.* FROM listeners_current t JOIN asset_state s USING (asset_id);
CREATE VIEW current_interfaces AS
    SELECT s.report_id, t.* FROM interfaces_current t JOIN asset_state s USING (asset_id);
CREATE VIEW current_disks AS
    SELECT s.report_id, t.* FROM disks_current t JOIN asset_state s USING (asset_id);
CREATE VIEW current_devices AS
    SELECT s.report_id, t.* FROM devices_current t JOIN asset_state s USING (asset_id);

-- As of a moment: what each asset's latest report collected at or before that moment showed
-- (reports that arrived after a newer one of their asset, in_history = false, are not in history).
CREATE MACRO reports_as_of(moment) AS TABLE
    SELECT * FROM reports
    WHERE in_history AND collected_at <= CAST(moment AS TIMESTAMPTZ)
    QUALIFY row_number() OVER (PARTITION BY asset_id ORDER BY collected_at DESC, received_at DESC, report_id) = 1;
CREATE MACRO packages_as_of(moment) AS TABLE
    SELECT * EXCLUDE (last_report_id, last_seen, ended_at, open) FROM packages
    WHERE first_seen <= CAST(moment AS TIMESTAMPTZ) AND (ended_at IS NULL OR ended_at > CAST(moment AS TIMESTAMPTZ));
CREATE MACRO software_as_of(moment) AS TABLE
    SELECT * EXCLUDE (last_report_id, last_seen, ended_at, open) FROM software
    WHERE first_seen <= CAST(moment AS TIMESTAMPTZ) AND (ended_at IS NULL OR ended_at > CAST(moment AS TIMESTAMPTZ));
CREATE MACRO listeners_as_of(moment) AS TABLE
    SELECT * EXCLUDE (last_report_id, last_seen, ended_at, open) FROM listeners
    WHERE first_seen <= CAST(moment AS TIMESTAMPTZ) AND (ended_at IS NULL OR ended_at > CAST(moment AS TIMESTAMPTZ));
CREATE MACRO interfaces_as_of(moment) AS TABLE
    SELECT * EXCLUDE (last_report_id, last_seen, ended_at, open) FROM interfaces
    WHERE first_seen <= CAST(moment AS TIMESTAMPTZ) AND (ended_at IS NULL OR ended_at > CAST(moment AS TIMESTAMPTZ));
CREATE MACRO disks_as_of(moment) AS TABLE
    SELECT * EXCLUDE (last_report_id, last_seen, ended_at, open) FROM disks
    WHERE first_seen <= CAST(moment AS TIMESTAMPTZ) AND (ended_at IS NULL OR ended_at > CAST(moment AS TIMESTAMPTZ));
CREATE MACRO devices_as_of(moment) AS TABLE
    SELECT * EXCLUDE (last_report_id, last_seen, ended_at, open) FROM devices
    WHERE first_seen <= CAST(moment AS TIMESTAMPTZ) AND (ended_at IS NULL OR ended_at > CAST(moment AS TIMESTAMPTZ));

-- What changed since a moment, across parts: one row per row that appeared or went.
CREATE MACRO changes_since(moment) AS TABLE
    WITH t AS (
        SELECT 'package' AS part, asset_id, name AS item, version AS detail, first_report_id, first_seen,
               last_report_id, ended_at FROM packages
        UNION ALL
        SELECT 'software', asset_id, name, version, first_report_id, first_seen, last_report_id, ended_at
        FROM software
        UNION ALL
        SELECT 'listener', asset_id, protocol || ' ' || address || ':' || port, process, first_report_id, first_seen,
               last_report_id, ended_at FROM listeners
        UNION ALL
        SELECT 'interface', asset_id, name, mac || ' ' || array_to_string(addresses, ','), first_report_id,
               first_seen, last_report_id, ended_at FROM interfaces
        UNION ALL
        SELECT 'disk', asset_id, device, mountpoint || ' ' || total_bytes, first_report_id, first_seen,
               last_report_id, ended_at FROM disks
        UNION ALL
        SELECT 'device', asset_id, vendor || ' ' || model, os || ' ' || version, first_report_id, first_seen,
               last_report_id, ended_at FROM devices
    )
    SELECT asset_id, part, 'added' AS change, item, detail, first_seen AS changed_at, first_report_id AS report_id
    FROM t WHERE first_seen > CAST(moment AS TIMESTAMPTZ)
    UNION ALL
    SELECT asset_id, part, 'removed', item, detail, ended_at, last_report_id
    FROM t WHERE ended_at > CAST(moment AS TIMESTAMPTZ);

COMMENT ON COLUMN reports.sender IS 'Who sent the report: the client certificate''s common name over mTLS, the peer address in plaintext, or file.';
COMMENT ON COLUMN reports.sha256 IS 'SHA-256 of the report as stored (binary protobuf), for audit; NULL for reports stored before migration 0003.';
COMMENT ON COLUMN reports.in_history IS 'False when a newer report of the same asset was already stored: the report is recorded but its parts do not change the history.';
COMMENT ON TABLE reports IS 'One row per report received: one asset, one scan, its sender, time and hash (exactly-once storage and audit); current_reports has the latest per asset.';

COMMENT ON TABLE asset_state IS 'One row per asset: its current report and a content hash per part, so an unchanged rescan costs one comparison.';
COMMENT ON COLUMN asset_state.asset_id IS 'The asset.';
COMMENT ON COLUMN asset_state.report_id IS 'Its current report (the latest by collected_at, then received_at).';
COMMENT ON COLUMN asset_state.collected_at IS 'When the current report was collected (agent clock).';
COMMENT ON COLUMN asset_state.received_at IS 'When the current report was stored (collector clock).';
COMMENT ON COLUMN asset_state.first_report_id IS 'The first report stored for the asset.';
COMMENT ON COLUMN asset_state.first_seen IS 'When the first report was collected.';
COMMENT ON COLUMN asset_state.reports IS 'Reports of the asset that entered its history.';
COMMENT ON COLUMN asset_state.changed_commit IS 'Number of the store commit that last changed this asset (the scorer rescores assets changed since its last run).';
COMMENT ON COLUMN asset_state.packages_hash IS 'Content hash of the current report''s packages (NULL: not known, compared row by row next time).';
COMMENT ON COLUMN asset_state.software_hash IS 'Content hash of the current report''s software.';
COMMENT ON COLUMN asset_state.listeners_hash IS 'Content hash of the current report''s listeners.';
COMMENT ON COLUMN asset_state.interfaces_hash IS 'Content hash of the current report''s interfaces.';
COMMENT ON COLUMN asset_state.disks_hash IS 'Content hash of the current report''s disks.';
COMMENT ON COLUMN asset_state.devices_hash IS 'Content hash of the current report''s SNMP device.';

COMMENT ON VIEW packages IS 'Installed packages as intervals: one row per package per asset for as long as consecutive reports showed it unchanged (open = still installed; stored in packages_current and packages_history). current_packages has the open ones; packages_as_of(moment) any past state.';
COMMENT ON TABLE packages_current IS 'Open intervals of packages (what each asset''s current report shows), with the report that first showed each row; see the view packages.';
COMMENT ON TABLE packages_history IS 'Closed intervals of packages: rows a later report no longer showed, with the first and last report that showed them; see the view packages.';
COMMENT ON COLUMN packages_current.asset_id IS 'Asset that has the package.';
COMMENT ON COLUMN packages_history.asset_id IS 'Asset that has the package.';
COMMENT ON COLUMN packages_current.name IS 'Package name as the package manager writes it.';
COMMENT ON COLUMN packages_history.name IS 'Package name as the package manager writes it.';
COMMENT ON COLUMN packages_current.version IS 'Version as the package manager writes it (compare by the manager''s scheme, not as text).';
COMMENT ON COLUMN packages_history.version IS 'Version as the package manager writes it (compare by the manager''s scheme, not as text).';
COMMENT ON COLUMN packages_current.architecture IS 'Package architecture (amd64, x86_64, noarch, all, ...).';
COMMENT ON COLUMN packages_history.architecture IS 'Package architecture (amd64, x86_64, noarch, all, ...).';
COMMENT ON COLUMN packages_current.manager IS 'Package manager: dpkg, rpm, apk, pacman, snap, flatpak, windows, pip, npm, lslpp, pkginfo, pkg, swlist, hrsw.';
COMMENT ON COLUMN packages_history.manager IS 'Package manager: dpkg, rpm, apk, pacman, snap, flatpak, windows, pip, npm, lslpp, pkginfo, pkg, swlist, hrsw.';
COMMENT ON COLUMN packages_current.source IS 'Source package, where the manager records it.';
COMMENT ON COLUMN packages_history.source IS 'Source package, where the manager records it.';
COMMENT ON COLUMN packages_current.found_by IS 'Discoverer that found the package.';
COMMENT ON COLUMN packages_history.found_by IS 'Discoverer that found the package.';
COMMENT ON COLUMN packages_current.evidence IS 'File or command the package was read from.';
COMMENT ON COLUMN packages_history.evidence IS 'File or command the package was read from.';

COMMENT ON VIEW software IS 'Runtimes and servers found outside package managers, as intervals (see packages).';
COMMENT ON TABLE software_current IS 'Open intervals of software (what each asset''s current report shows), with the report that first showed each row; see the view software.';
COMMENT ON TABLE software_history IS 'Closed intervals of software: rows a later report no longer showed, with the first and last report that showed them; see the view software.';
COMMENT ON COLUMN software_current.asset_id IS 'Asset it runs on.';
COMMENT ON COLUMN software_history.asset_id IS 'Asset it runs on.';
COMMENT ON COLUMN software_current.name IS 'Product name in lower case (openjdk, python, nginx, ...).';
COMMENT ON COLUMN software_history.name IS 'Product name in lower case (openjdk, python, nginx, ...).';
COMMENT ON COLUMN software_current.version IS 'Version as read from the binary or its files.';
COMMENT ON COLUMN software_history.version IS 'Version as read from the binary or its files.';
COMMENT ON COLUMN software_current.vendor IS 'Vendor or distribution of the runtime.';
COMMENT ON COLUMN software_history.vendor IS 'Vendor or distribution of the runtime.';
COMMENT ON COLUMN software_current.path IS 'Install location or binary path.';
COMMENT ON COLUMN software_history.path IS 'Install location or binary path.';
COMMENT ON COLUMN software_current.found_by IS 'Discoverer that found it.';
COMMENT ON COLUMN software_history.found_by IS 'Discoverer that found it.';
COMMENT ON COLUMN software_current.evidence IS 'How it was found and where its version came from.';
COMMENT ON COLUMN software_history.evidence IS 'How it was found and where its version came from.';

COMMENT ON VIEW listeners IS 'Listening sockets with their process, as intervals (see packages).';
COMMENT ON TABLE listeners_current IS 'Open intervals of listeners (what each asset''s current report shows), with the report that first showed each row; see the view listeners.';
COMMENT ON TABLE listeners_history IS 'Closed intervals of listeners: rows a later report no longer showed, with the first and last report that showed them; see the view listeners.';
COMMENT ON COLUMN listeners_current.asset_id IS 'Asset that listens.';
COMMENT ON COLUMN listeners_history.asset_id IS 'Asset that listens.';
COMMENT ON COLUMN listeners_current.protocol IS 'tcp, tcp6, udp or udp6.';
COMMENT ON COLUMN listeners_history.protocol IS 'tcp, tcp6, udp or udp6.';
COMMENT ON COLUMN listeners_current.address IS 'Local address listened on.';
COMMENT ON COLUMN listeners_history.address IS 'Local address listened on.';
COMMENT ON COLUMN listeners_current.port IS 'Local port.';
COMMENT ON COLUMN listeners_history.port IS 'Local port.';
COMMENT ON COLUMN listeners_current.pid IS 'Process id, where known.';
COMMENT ON COLUMN listeners_history.pid IS 'Process id, where known.';
COMMENT ON COLUMN listeners_current.process IS 'Process name, where known.';
COMMENT ON COLUMN listeners_history.process IS 'Process name, where known.';
COMMENT ON COLUMN listeners_current.exposed IS 'True when listening beyond loopback.';
COMMENT ON COLUMN listeners_history.exposed IS 'True when listening beyond loopback.';
COMMENT ON COLUMN listeners_current.found_by IS 'Discoverer that found it.';
COMMENT ON COLUMN listeners_history.found_by IS 'Discoverer that found it.';
COMMENT ON COLUMN listeners_current.evidence IS 'Where the listener was read from (psutil, ss, /proc/net).';
COMMENT ON COLUMN listeners_history.evidence IS 'Where the listener was read from (psutil, ss, /proc/net).';

COMMENT ON VIEW interfaces IS 'Network interfaces with their MAC and addresses, as intervals (see packages).';
COMMENT ON TABLE interfaces_current IS 'Open intervals of interfaces (what each asset''s current report shows), with the report that first showed each row; see the view interfaces.';
COMMENT ON TABLE interfaces_history IS 'Closed intervals of interfaces: rows a later report no longer showed, with the first and last report that showed them; see the view interfaces.';
COMMENT ON COLUMN interfaces_current.asset_id IS 'Asset of the interface.';
COMMENT ON COLUMN interfaces_history.asset_id IS 'Asset of the interface.';
COMMENT ON COLUMN interfaces_current.name IS 'Interface name.';
COMMENT ON COLUMN interfaces_history.name IS 'Interface name.';
COMMENT ON COLUMN interfaces_current.mac IS 'Hardware address.';
COMMENT ON COLUMN interfaces_history.mac IS 'Hardware address.';
COMMENT ON COLUMN interfaces_current.addresses IS 'IPv4 and IPv6 addresses.';
COMMENT ON COLUMN interfaces_history.addresses IS 'IPv4 and IPv6 addresses.';

COMMENT ON VIEW disks IS 'Mounted disks and their sizes, as intervals (see packages).';
COMMENT ON TABLE disks_current IS 'Open intervals of disks (what each asset''s current report shows), with the report that first showed each row; see the view disks.';
COMMENT ON TABLE disks_history IS 'Closed intervals of disks: rows a later report no longer showed, with the first and last report that showed them; see the view disks.';
COMMENT ON COLUMN disks_current.asset_id IS 'Asset of the disk.';
COMMENT ON COLUMN disks_history.asset_id IS 'Asset of the disk.';
COMMENT ON COLUMN disks_current.device IS 'Block device.';
COMMENT ON COLUMN disks_history.device IS 'Block device.';
COMMENT ON COLUMN disks_current.mountpoint IS 'Where it is mounted.';
COMMENT ON COLUMN disks_history.mountpoint IS 'Where it is mounted.';
COMMENT ON COLUMN disks_current.fstype IS 'File system type.';
COMMENT ON COLUMN disks_history.fstype IS 'File system type.';
COMMENT ON COLUMN disks_current.total_bytes IS 'Size in bytes.';
COMMENT ON COLUMN disks_history.total_bytes IS 'Size in bytes.';

COMMENT ON VIEW devices IS 'Network devices discovered over SNMP, as intervals (see packages).';
COMMENT ON TABLE devices_current IS 'Open intervals of devices (what each asset''s current report shows), with the report that first showed each row; see the view devices.';
COMMENT ON TABLE devices_history IS 'Closed intervals of devices: rows a later report no longer showed, with the first and last report that showed them; see the view devices.';
COMMENT ON COLUMN devices_current.asset_id IS 'Asset of the device.';
COMMENT ON COLUMN devices_history.asset_id IS 'Asset of the device.';
COMMENT ON COLUMN devices_current.vendor IS 'Vendor (Cisco, Juniper, HPE, ...).';
COMMENT ON COLUMN devices_history.vendor IS 'Vendor (Cisco, Juniper, HPE, ...).';
COMMENT ON COLUMN devices_current.model IS 'Model name or number.';
COMMENT ON COLUMN devices_history.model IS 'Model name or number.';
COMMENT ON COLUMN devices_current.serial IS 'Serial number.';
COMMENT ON COLUMN devices_history.serial IS 'Serial number.';
COMMENT ON COLUMN devices_current.os IS 'Operating system (ios, iosxe, junos, ...).';
COMMENT ON COLUMN devices_history.os IS 'Operating system (ios, iosxe, junos, ...).';
COMMENT ON COLUMN devices_current.version IS 'Operating system version.';
COMMENT ON COLUMN devices_history.version IS 'Operating system version.';
COMMENT ON COLUMN devices_current.sys_descr IS 'SNMPv2-MIB sysDescr.';
COMMENT ON COLUMN devices_history.sys_descr IS 'SNMPv2-MIB sysDescr.';
COMMENT ON COLUMN devices_current.sys_object_id IS 'SNMPv2-MIB sysObjectID.';
COMMENT ON COLUMN devices_history.sys_object_id IS 'SNMPv2-MIB sysObjectID.';
COMMENT ON COLUMN devices_current.sys_name IS 'SNMPv2-MIB sysName.';
COMMENT ON COLUMN devices_history.sys_name IS 'SNMPv2-MIB sysName.';
COMMENT ON COLUMN devices_current.sys_contact IS 'SNMPv2-MIB sysContact.';
COMMENT ON COLUMN devices_history.sys_contact IS 'SNMPv2-MIB sysContact.';
COMMENT ON COLUMN devices_current.sys_location IS 'SNMPv2-MIB sysLocation.';
COMMENT ON COLUMN devices_history.sys_location IS 'SNMPv2-MIB sysLocation.';
COMMENT ON COLUMN devices_current.engine_id IS 'SNMP engine id in hex.';
COMMENT ON COLUMN devices_history.engine_id IS 'SNMP engine id in hex.';
COMMENT ON COLUMN devices_current.hardware_revision IS 'ENTITY-MIB hardware revision.';
COMMENT ON COLUMN devices_history.hardware_revision IS 'ENTITY-MIB hardware revision.';
COMMENT ON COLUMN devices_current.firmware_revision IS 'ENTITY-MIB firmware revision.';
COMMENT ON COLUMN devices_history.firmware_revision IS 'ENTITY-MIB firmware revision.';
COMMENT ON COLUMN devices_current.evidence IS 'Which OID gave each fact (field name to OID).';
COMMENT ON COLUMN devices_history.evidence IS 'Which OID gave each fact (field name to OID).';
COMMENT ON COLUMN devices_current.found_by IS 'Discoverer that read the device.';
COMMENT ON COLUMN devices_history.found_by IS 'Discoverer that read the device.';
COMMENT ON COLUMN packages_current.first_report_id IS 'First report of the interval: the report that showed this row first.';
COMMENT ON COLUMN packages_history.first_report_id IS 'First report of the interval: the report that showed this row first.';
COMMENT ON COLUMN packages_current.first_seen IS 'When that first report was collected.';
COMMENT ON COLUMN packages_history.first_seen IS 'When that first report was collected.';
COMMENT ON COLUMN packages_history.last_report_id IS 'Last report that still showed this row, once the interval is closed (NULL while open: the asset''s current report).';
COMMENT ON COLUMN packages_history.last_seen IS 'When that last report was collected (NULL while open).';
COMMENT ON COLUMN packages_history.ended_at IS 'When the first report without this row was collected (NULL while open).';
COMMENT ON COLUMN software_current.first_report_id IS 'First report of the interval: the report that showed this row first.';
COMMENT ON COLUMN software_history.first_report_id IS 'First report of the interval: the report that showed this row first.';
COMMENT ON COLUMN software_current.first_seen IS 'When that first report was collected.';
COMMENT ON COLUMN software_history.first_seen IS 'When that first report was collected.';
COMMENT ON COLUMN software_history.last_report_id IS 'Last report that still showed this row, once the interval is closed (NULL while open: the asset''s current report).';
COMMENT ON COLUMN software_history.last_seen IS 'When that last report was collected (NULL while open).';
COMMENT ON COLUMN software_history.ended_at IS 'When the first report without this row was collected (NULL while open).';
COMMENT ON COLUMN listeners_current.first_report_id IS 'First report of the interval: the report that showed this row first.';
COMMENT ON COLUMN listeners_history.first_report_id IS 'First report of the interval: the report that showed this row first.';
COMMENT ON COLUMN listeners_current.first_seen IS 'When that first report was collected.';
COMMENT ON COLUMN listeners_history.first_seen IS 'When that first report was collected.';
COMMENT ON COLUMN listeners_history.last_report_id IS 'Last report that still showed this row, once the interval is closed (NULL while open: the asset''s current report).';
COMMENT ON COLUMN listeners_history.last_seen IS 'When that last report was collected (NULL while open).';
COMMENT ON COLUMN listeners_history.ended_at IS 'When the first report without this row was collected (NULL while open).';
COMMENT ON COLUMN interfaces_current.first_report_id IS 'First report of the interval: the report that showed this row first.';
COMMENT ON COLUMN interfaces_history.first_report_id IS 'First report of the interval: the report that showed this row first.';
COMMENT ON COLUMN interfaces_current.first_seen IS 'When that first report was collected.';
COMMENT ON COLUMN interfaces_history.first_seen IS 'When that first report was collected.';
COMMENT ON COLUMN interfaces_history.last_report_id IS 'Last report that still showed this row, once the interval is closed (NULL while open: the asset''s current report).';
COMMENT ON COLUMN interfaces_history.last_seen IS 'When that last report was collected (NULL while open).';
COMMENT ON COLUMN interfaces_history.ended_at IS 'When the first report without this row was collected (NULL while open).';
COMMENT ON COLUMN disks_current.first_report_id IS 'First report of the interval: the report that showed this row first.';
COMMENT ON COLUMN disks_history.first_report_id IS 'First report of the interval: the report that showed this row first.';
COMMENT ON COLUMN disks_current.first_seen IS 'When that first report was collected.';
COMMENT ON COLUMN disks_history.first_seen IS 'When that first report was collected.';
COMMENT ON COLUMN disks_history.last_report_id IS 'Last report that still showed this row, once the interval is closed (NULL while open: the asset''s current report).';
COMMENT ON COLUMN disks_history.last_seen IS 'When that last report was collected (NULL while open).';
COMMENT ON COLUMN disks_history.ended_at IS 'When the first report without this row was collected (NULL while open).';
COMMENT ON COLUMN devices_current.first_report_id IS 'First report of the interval: the report that showed this row first.';
COMMENT ON COLUMN devices_history.first_report_id IS 'First report of the interval: the report that showed this row first.';
COMMENT ON COLUMN devices_current.first_seen IS 'When that first report was collected.';
COMMENT ON COLUMN devices_history.first_seen IS 'When that first report was collected.';
COMMENT ON COLUMN devices_history.last_report_id IS 'Last report that still showed this row, once the interval is closed (NULL while open: the asset''s current report).';
COMMENT ON COLUMN devices_history.last_seen IS 'When that last report was collected (NULL while open).';
COMMENT ON COLUMN devices_history.ended_at IS 'When the first report without this row was collected (NULL while open).';
COMMENT ON COLUMN packages.open IS 'True while the asset''s current report still shows this row.';
COMMENT ON COLUMN software.open IS 'True while the asset''s current report still shows this row.';
COMMENT ON COLUMN listeners.open IS 'True while the asset''s current report still shows this row.';
COMMENT ON COLUMN interfaces.open IS 'True while the asset''s current report still shows this row.';
COMMENT ON COLUMN disks.open IS 'True while the asset''s current report still shows this row.';
COMMENT ON COLUMN devices.open IS 'True while the asset''s current report still shows this row.';

-- The views' columns, described as the history tables' columns.
COMMENT ON COLUMN packages.asset_id IS 'Asset that has the package.';
COMMENT ON COLUMN packages.name IS 'Package name as the package manager writes it.';
COMMENT ON COLUMN packages.version IS 'Version as the package manager writes it (compare by the manager''s scheme, not as text).';
COMMENT ON COLUMN packages.architecture IS 'Package architecture (amd64, x86_64, noarch, all, ...).';
COMMENT ON COLUMN packages.manager IS 'Package manager: dpkg, rpm, apk, pacman, snap, flatpak, windows, pip, npm, lslpp, pkginfo, pkg, swlist, hrsw.';
COMMENT ON COLUMN packages.source IS 'Source package, where the manager records it.';
COMMENT ON COLUMN packages.found_by IS 'Discoverer that found the package.';
COMMENT ON COLUMN packages.evidence IS 'File or command the package was read from.';
COMMENT ON COLUMN packages.first_report_id IS 'First report of the interval: the report that showed this row first.';
COMMENT ON COLUMN packages.first_seen IS 'When that first report was collected.';
COMMENT ON COLUMN packages.last_report_id IS 'Last report that still showed this row, once the interval is closed (NULL while open: the asset''s current report).';
COMMENT ON COLUMN packages.last_seen IS 'When that last report was collected (NULL while open).';
COMMENT ON COLUMN packages.ended_at IS 'When the first report without this row was collected (NULL while open).';
COMMENT ON COLUMN software.asset_id IS 'Asset it runs on.';
COMMENT ON COLUMN software.name IS 'Product name in lower case (openjdk, python, nginx, ...).';
COMMENT ON COLUMN software.version IS 'Version as read from the binary or its files.';
COMMENT ON COLUMN software.vendor IS 'Vendor or distribution of the runtime.';
COMMENT ON COLUMN software.path IS 'Install location or binary path.';
COMMENT ON COLUMN software.found_by IS 'Discoverer that found it.';
COMMENT ON COLUMN software.evidence IS 'How it was found and where its version came from.';
COMMENT ON COLUMN software.first_report_id IS 'First report of the interval: the report that showed this row first.';
COMMENT ON COLUMN software.first_seen IS 'When that first report was collected.';
COMMENT ON COLUMN software.last_report_id IS 'Last report that still showed this row, once the interval is closed (NULL while open: the asset''s current report).';
COMMENT ON COLUMN software.last_seen IS 'When that last report was collected (NULL while open).';
COMMENT ON COLUMN software.ended_at IS 'When the first report without this row was collected (NULL while open).';
COMMENT ON COLUMN listeners.asset_id IS 'Asset that listens.';
COMMENT ON COLUMN listeners.protocol IS 'tcp, tcp6, udp or udp6.';
COMMENT ON COLUMN listeners.address IS 'Local address listened on.';
COMMENT ON COLUMN listeners.port IS 'Local port.';
COMMENT ON COLUMN listeners.pid IS 'Process id, where known.';
COMMENT ON COLUMN listeners.process IS 'Process name, where known.';
COMMENT ON COLUMN listeners.exposed IS 'True when listening beyond loopback.';
COMMENT ON COLUMN listeners.found_by IS 'Discoverer that found it.';
COMMENT ON COLUMN listeners.evidence IS 'Where the listener was read from (psutil, ss, /proc/net).';
COMMENT ON COLUMN listeners.first_report_id IS 'First report of the interval: the report that showed this row first.';
COMMENT ON COLUMN listeners.first_seen IS 'When that first report was collected.';
COMMENT ON COLUMN listeners.last_report_id IS 'Last report that still showed this row, once the interval is closed (NULL while open: the asset''s current report).';
COMMENT ON COLUMN listeners.last_seen IS 'When that last report was collected (NULL while open).';
COMMENT ON COLUMN listeners.ended_at IS 'When the first report without this row was collected (NULL while open).';
COMMENT ON COLUMN interfaces.asset_id IS 'Asset of the interface.';
COMMENT ON COLUMN interfaces.name IS 'Interface name.';
COMMENT ON COLUMN interfaces.mac IS 'Hardware address.';
COMMENT ON COLUMN interfaces.addresses IS 'IPv4 and IPv6 addresses.';
COMMENT ON COLUMN interfaces.first_report_id IS 'First report of the interval: the report that showed this row first.';
COMMENT ON COLUMN interfaces.first_seen IS 'When that first report was collected.';
COMMENT ON COLUMN interfaces.last_report_id IS 'Last report that still showed this row, once the interval is closed (NULL while open: the asset''s current report).';
COMMENT ON COLUMN interfaces.last_seen IS 'When that last report was collected (NULL while open).';
COMMENT ON COLUMN interfaces.ended_at IS 'When the first report without this row was collected (NULL while open).';
COMMENT ON COLUMN disks.asset_id IS 'Asset of the disk.';
COMMENT ON COLUMN disks.device IS 'Block device.';
COMMENT ON COLUMN disks.mountpoint IS 'Where it is mounted.';
COMMENT ON COLUMN disks.fstype IS 'File system type.';
COMMENT ON COLUMN disks.total_bytes IS 'Size in bytes.';
COMMENT ON COLUMN disks.first_report_id IS 'First report of the interval: the report that showed this row first.';
COMMENT ON COLUMN disks.first_seen IS 'When that first report was collected.';
COMMENT ON COLUMN disks.last_report_id IS 'Last report that still showed this row, once the interval is closed (NULL while open: the asset''s current report).';
COMMENT ON COLUMN disks.last_seen IS 'When that last report was collected (NULL while open).';
COMMENT ON COLUMN disks.ended_at IS 'When the first report without this row was collected (NULL while open).';
COMMENT ON COLUMN devices.asset_id IS 'Asset of the device.';
COMMENT ON COLUMN devices.vendor IS 'Vendor (Cisco, Juniper, HPE, ...).';
COMMENT ON COLUMN devices.model IS 'Model name or number.';
COMMENT ON COLUMN devices.serial IS 'Serial number.';
COMMENT ON COLUMN devices.os IS 'Operating system (ios, iosxe, junos, ...).';
COMMENT ON COLUMN devices.version IS 'Operating system version.';
COMMENT ON COLUMN devices.sys_descr IS 'SNMPv2-MIB sysDescr.';
COMMENT ON COLUMN devices.sys_object_id IS 'SNMPv2-MIB sysObjectID.';
COMMENT ON COLUMN devices.sys_name IS 'SNMPv2-MIB sysName.';
COMMENT ON COLUMN devices.sys_contact IS 'SNMPv2-MIB sysContact.';
COMMENT ON COLUMN devices.sys_location IS 'SNMPv2-MIB sysLocation.';
COMMENT ON COLUMN devices.engine_id IS 'SNMP engine id in hex.';
COMMENT ON COLUMN devices.hardware_revision IS 'ENTITY-MIB hardware revision.';
COMMENT ON COLUMN devices.firmware_revision IS 'ENTITY-MIB firmware revision.';
COMMENT ON COLUMN devices.evidence IS 'Which OID gave each fact (field name to OID).';
COMMENT ON COLUMN devices.found_by IS 'Discoverer that read the device.';
COMMENT ON COLUMN devices.first_report_id IS 'First report of the interval: the report that showed this row first.';
COMMENT ON COLUMN devices.first_seen IS 'When that first report was collected.';
COMMENT ON COLUMN devices.last_report_id IS 'Last report that still showed this row, once the interval is closed (NULL while open: the asset''s current report).';
COMMENT ON COLUMN devices.last_seen IS 'When that last report was collected (NULL while open).';
COMMENT ON COLUMN devices.ended_at IS 'When the first report without this row was collected (NULL while open).';

COMMENT ON MACRO TABLE reports_as_of IS 'reports_as_of(moment): each asset''s report in force at that moment (the latest collected at or before it); columns of reports.';
COMMENT ON MACRO TABLE packages_as_of IS 'packages_as_of(moment): the packages each asset had at that moment (intervals open then); columns of packages without last_report_id, last_seen, ended_at, open.';
COMMENT ON MACRO TABLE software_as_of IS 'software_as_of(moment): the software each asset had at that moment; columns of software without the closing ones.';
COMMENT ON MACRO TABLE listeners_as_of IS 'listeners_as_of(moment): the listeners each asset had at that moment; columns of listeners without the closing ones.';
COMMENT ON MACRO TABLE interfaces_as_of IS 'interfaces_as_of(moment): the network interfaces each asset had at that moment; columns of interfaces without the closing ones.';
COMMENT ON MACRO TABLE disks_as_of IS 'disks_as_of(moment): the disks each asset had at that moment; columns of disks without the closing ones.';
COMMENT ON MACRO TABLE devices_as_of IS 'devices_as_of(moment): the SNMP device facts each asset had at that moment; columns of devices without the closing ones.';
COMMENT ON MACRO TABLE changes_since IS 'changes_since(moment): every row that appeared (added) or went (removed) after that moment, across parts: asset_id, part, change, item, detail, changed_at, report_id.';

COMMENT ON VIEW current_disks IS 'Disks of each asset''s latest report.';
COMMENT ON COLUMN current_packages.report_id IS 'The asset''s current report (asset_state.report_id), which shows this row.';
COMMENT ON COLUMN current_software.report_id IS 'The asset''s current report (asset_state.report_id), which shows this row.';
COMMENT ON COLUMN current_listeners.report_id IS 'The asset''s current report (asset_state.report_id), which shows this row.';
COMMENT ON COLUMN current_interfaces.report_id IS 'The asset''s current report (asset_state.report_id), which shows this row.';
COMMENT ON COLUMN current_disks.report_id IS 'The asset''s current report (asset_state.report_id), which shows this row.';
COMMENT ON COLUMN current_devices.report_id IS 'The asset''s current report (asset_state.report_id), which shows this row.';
