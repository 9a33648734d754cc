-- Packages stored by number (issue 9, storage): what is stable about a package (its name and the
-- descriptive columns: architecture, manager, source, maintainer, ...) is kept once for the whole
-- estate in package_catalog; an interval row keeps only the asset's number, the package's number,
-- its version and the numbers of the reports that opened and closed it. Report ids (36 characters or
-- more) repeated in every interval row, and the descriptive text repeated per asset, made up most of
-- the file. The views packages and current_packages give the same columns as before, with the same
-- meaning; packages_as_of and changes_since read them unchanged.

CREATE SEQUENCE report_numbers START 1;
CREATE SEQUENCE asset_numbers START 1;
CREATE SEQUENCE package_numbers START 1;

ALTER TABLE reports ADD COLUMN report_no INTEGER DEFAULT nextval('report_numbers');
ALTER TABLE asset_state ADD COLUMN asset_no INTEGER DEFAULT nextval('asset_numbers');
ALTER TABLE asset_state ADD COLUMN report_no INTEGER;
UPDATE asset_state SET report_no = r.report_no FROM reports r WHERE r.report_id = asset_state.report_id;

CREATE TABLE package_catalog (
    package_no INTEGER NOT NULL,
    name VARCHAR NOT NULL,
    architecture VARCHAR,
    manager VARCHAR NOT NULL,
    source VARCHAR,
    found_by VARCHAR,
    evidence VARCHAR,
    origin VARCHAR,
    maintainer VARCHAR,
    distribution VARCHAR,
    component VARCHAR
);
INSERT INTO package_catalog
SELECT nextval('package_numbers'), * FROM (
    SELECT DISTINCT name, architecture, manager, source, found_by, evidence, origin, maintainer, distribution,
                    component
    FROM (SELECT * EXCLUDE (first_report_id, first_seen) FROM packages_current
          UNION ALL
          SELECT * EXCLUDE (first_report_id, first_seen, last_report_id, last_seen, ended_at) FROM packages_history)
    ORDER BY ALL);

CREATE TABLE packages_current_0011 (
    asset_no INTEGER NOT NULL,
    package_no INTEGER NOT NULL,
    version VARCHAR NOT NULL,
    first_report_no INTEGER NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL
);
INSERT INTO packages_current_0011
SELECT s.asset_no, c.package_no, t.version, f.report_no, t.first_seen
FROM packages_current t
JOIN asset_state s USING (asset_id)
JOIN package_catalog c ON c.name = t.name AND c.manager = t.manager
    AND c.architecture IS NOT DISTINCT FROM t.architecture AND c.source IS NOT DISTINCT FROM t.source
    AND c.found_by IS NOT DISTINCT FROM t.found_by AND c.evidence IS NOT DISTINCT FROM t.evidence
    AND c.origin IS NOT DISTINCT FROM t.origin AND c.maintainer IS NOT DISTINCT FROM t.maintainer
    AND c.distribution IS NOT DISTINCT FROM t.distribution AND c.component IS NOT DISTINCT FROM t.component
JOIN reports f ON f.report_id = t.first_report_id
-- In the order history.py keeps (PACKAGE_ORDER): by first_seen and asset, package numbers alternately
-- ascending and descending from one asset to the next, so that they bit-pack narrow.
ORDER BY t.first_seen, s.asset_no, CASE WHEN s.asset_no % 2 = 0 THEN c.package_no ELSE -c.package_no END;

CREATE TABLE packages_history_0011 (
    asset_no INTEGER NOT NULL,
    package_no INTEGER NOT NULL,
    version VARCHAR NOT NULL,
    first_report_no INTEGER NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL,
    last_report_no INTEGER NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    ended_at TIMESTAMPTZ NOT NULL
);
INSERT INTO packages_history_0011
SELECT s.asset_no, c.package_no, t.version, f.report_no, t.first_seen, l.report_no, t.last_seen, t.ended_at
FROM packages_history t
JOIN asset_state s USING (asset_id)
JOIN package_catalog c ON c.name = t.name AND c.manager = t.manager
    AND c.architecture IS NOT DISTINCT FROM t.architecture AND c.source IS NOT DISTINCT FROM t.source
    AND c.found_by IS NOT DISTINCT FROM t.found_by AND c.evidence IS NOT DISTINCT FROM t.evidence
    AND c.origin IS NOT DISTINCT FROM t.origin AND c.maintainer IS NOT DISTINCT FROM t.maintainer
    AND c.distribution IS NOT DISTINCT FROM t.distribution AND c.component IS NOT DISTINCT FROM t.component
JOIN reports f ON f.report_id = t.first_report_id
JOIN reports l ON l.report_id = t.last_report_id
ORDER BY t.ended_at, s.asset_no, c.package_no;

DROP VIEW current_packages;
DROP VIEW packages;
DROP TABLE packages_current;
DROP TABLE packages_history;
ALTER TABLE packages_current_0011 RENAME TO packages_current;
ALTER TABLE packages_history_0011 RENAME TO packages_history;

-- The same columns as before (0003): the numbers resolved to the asset, the package and the reports.
CREATE VIEW packages AS
SELECT s.asset_id, c.name, t.version, c.architecture, c.manager, c.source, c.found_by, c.evidence, c.origin,
       c.maintainer, c.distribution, c.component, f.report_id AS first_report_id, t.first_seen,
       l.report_id AS last_report_id, t.last_seen, t.ended_at, t.open
FROM (SELECT *, NULL::INTEGER AS last_report_no, NULL::TIMESTAMPTZ AS last_seen, NULL::TIMESTAMPTZ AS ended_at,
             true AS open FROM packages_current
      UNION ALL BY NAME
      SELECT *, false AS open FROM packages_history) t
JOIN asset_state s USING (asset_no)
JOIN package_catalog c USING (package_no)
LEFT JOIN reports f ON f.report_no = t.first_report_no
LEFT JOIN reports l ON l.report_no = t.last_report_no;

CREATE VIEW current_packages AS
SELECT s.report_id, s.asset_id, c.name, t.version, c.architecture, c.manager, c.source, c.found_by, c.evidence,
       c.origin, c.maintainer, c.distribution, c.component, f.report_id AS first_report_id, t.first_seen
FROM packages_current t
JOIN asset_state s USING (asset_no)
JOIN package_catalog c USING (package_no)
LEFT JOIN reports f ON f.report_no = t.first_report_no;

COMMENT ON COLUMN reports.report_no IS 'Number of the report in this database (interval rows refer to reports by it).';
COMMENT ON COLUMN asset_state.asset_no IS 'Number of the asset in this database (interval rows of packages refer to assets by it).';
COMMENT ON COLUMN asset_state.report_no IS 'Number of its current report (reports.report_no).';

COMMENT ON TABLE package_catalog IS 'Every package the estate has shown, apart from its version: one row per distinct name, architecture, manager, source, discoverer, evidence, origin, maintainer, distribution and component. Interval rows of packages refer to it by package_no; read packages through the views packages and current_packages.';
COMMENT ON COLUMN package_catalog.package_no IS 'Number of the package in this database.';
COMMENT ON COLUMN package_catalog.name IS 'Package name as the package manager writes it.';
COMMENT ON COLUMN package_catalog.architecture IS 'Package architecture (amd64, x86_64, noarch, all, ...).';
COMMENT ON COLUMN package_catalog.manager IS 'Package manager: dpkg, rpm, apk, pacman, snap, flatpak, windows, pip, npm, lslpp, pkginfo, pkg, swlist, hrsw.';
COMMENT ON COLUMN package_catalog.source IS 'Source package, where the manager records it.';
COMMENT ON COLUMN package_catalog.found_by IS 'Discoverer that found the package.';
COMMENT ON COLUMN package_catalog.evidence IS 'File or command the package was read from.';
COMMENT ON COLUMN package_catalog.origin IS 'Who distributes the package, where the host records it: dpkg Origin, rpm Vendor, Windows Publisher.';
COMMENT ON COLUMN package_catalog.maintainer IS 'Who built it: dpkg Maintainer, rpm Packager, apk maintainer.';
COMMENT ON COLUMN package_catalog.distribution IS 'rpm DISTRIBUTION tag, where set.';
COMMENT ON COLUMN package_catalog.component IS 'Archive area of a dpkg package (main, universe, multiverse, contrib, non-free), from its Section.';

COMMENT ON TABLE packages_current IS 'Open intervals of packages (what each asset''s current report shows), by number: asset (asset_state.asset_no), package (package_catalog.package_no), version and first report (reports.report_no); see the views packages and current_packages.';
COMMENT ON COLUMN packages_current.asset_no IS 'Asset that has the package (asset_state.asset_no).';
COMMENT ON COLUMN packages_current.package_no IS 'The package apart from its version (package_catalog.package_no).';
COMMENT ON COLUMN packages_current.version IS 'Version as the package manager writes it (compare by the manager''s scheme, not as text).';
COMMENT ON COLUMN packages_current.first_report_no IS 'First report of the interval (reports.report_no): the report that showed this row first.';
COMMENT ON COLUMN packages_current.first_seen IS 'When that first report was collected.';
COMMENT ON TABLE packages_history IS 'Closed intervals of packages, by number (see packages_current): rows a later report no longer showed, with the first and last report that showed them; see the view packages.';
COMMENT ON COLUMN packages_history.asset_no IS 'Asset that had the package (asset_state.asset_no).';
COMMENT ON COLUMN packages_history.package_no IS 'The package apart from its version (package_catalog.package_no).';
COMMENT ON COLUMN packages_history.version IS 'Version as the package manager writes it (compare by the manager''s scheme, not as text).';
COMMENT ON COLUMN packages_history.first_report_no IS 'First report of the interval (reports.report_no): the report that showed this row first.';
COMMENT ON COLUMN packages_history.first_seen IS 'When that first report was collected.';
COMMENT ON COLUMN packages_history.last_report_no IS 'Last report that still showed this row (reports.report_no).';
COMMENT ON COLUMN packages_history.last_seen IS 'When that last report was collected.';
COMMENT ON COLUMN packages_history.ended_at IS 'When the first report without this row was collected.';

-- Replacing a view drops its descriptions: the same ones again (0003, 0006).
COMMENT ON VIEW packages IS 'Installed packages as intervals: one row per package per asset for as long as consecutive reports showed it unchanged (open = still installed; stored by number in packages_current, packages_history and package_catalog). current_packages has the open ones; packages_as_of(moment) any past state.';
COMMENT ON COLUMN packages.asset_id IS 'Asset that has the package.';
COMMENT ON COLUMN packages.name IS 'Package name as the package manager writes it.';
COMMENT ON COLUMN packages.version IS 'Version as the package manager writes it (compare by the manager''s scheme, not as text).';
COMMENT ON COLUMN packages.architecture IS 'Package architecture (amd64, x86_64, noarch, all, ...).';
COMMENT ON COLUMN packages.manager IS 'Package manager: dpkg, rpm, apk, pacman, snap, flatpak, windows, pip, npm, lslpp, pkginfo, pkg, swlist, hrsw.';
COMMENT ON COLUMN packages.source IS 'Source package, where the manager records it.';
COMMENT ON COLUMN packages.found_by IS 'Discoverer that found the package.';
COMMENT ON COLUMN packages.evidence IS 'File or command the package was read from.';
COMMENT ON COLUMN packages.origin IS 'Who distributes the package, where the host records it: dpkg Origin, rpm Vendor, Windows Publisher.';
COMMENT ON COLUMN packages.maintainer IS 'Who built it: dpkg Maintainer, rpm Packager, apk maintainer.';
COMMENT ON COLUMN packages.distribution IS 'rpm DISTRIBUTION tag, where set.';
COMMENT ON COLUMN packages.component IS 'Archive area of a dpkg package (main, universe, multiverse, contrib, non-free), from its Section.';
COMMENT ON COLUMN packages.first_report_id IS 'First report of the interval: the report that showed this row first.';
COMMENT ON COLUMN packages.first_seen IS 'When that first report was collected.';
COMMENT ON COLUMN packages.last_report_id IS 'Last report that still showed this row, once the interval is closed (NULL while open: the asset''s current report).';
COMMENT ON COLUMN packages.last_seen IS 'When that last report was collected (NULL while open).';
COMMENT ON COLUMN packages.ended_at IS 'When the first report without this row was collected (NULL while open).';
COMMENT ON COLUMN packages.open IS 'True while the asset''s current report still shows this row.';
COMMENT ON VIEW current_packages IS 'Packages of each asset''s latest report.';
COMMENT ON COLUMN current_packages.report_id IS 'The asset''s current report (asset_state.report_id), which shows this row.';
