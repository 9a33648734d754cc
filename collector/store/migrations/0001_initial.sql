-- Reports and what they found. Every table and column carries a one-line description
-- (COMMENT ON), which is the analyst documentation; a test fails on any column without one.

CREATE TABLE reports (
    report_id VARCHAR PRIMARY KEY,
    asset_id VARCHAR NOT NULL,
    collected_at TIMESTAMPTZ NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    method VARCHAR NOT NULL,
    received_via VARCHAR NOT NULL,
    agent_version VARCHAR,
    hostname VARCHAR,
    fqdn VARCHAR,
    machine_id VARCHAR,
    dmi_product_uuid VARCHAR,
    asset_id_source VARCHAR,
    identity_warnings VARCHAR[],
    os_family VARCHAR,
    os_id VARCHAR,
    os_name VARCHAR,
    os_version VARCHAR,
    os_version_id VARCHAR,
    os_major VARCHAR,
    os_codename VARCHAR,
    os_pretty_name VARCHAR,
    os_id_like VARCHAR[],
    os_edition VARCHAR,
    os_build VARCHAR,
    kernel VARCHAR,
    architecture VARCHAR,
    os_found_by VARCHAR,
    os_evidence VARCHAR,
    hw_cpu_model VARCHAR,
    hw_cpu_count INTEGER,
    hw_memory_bytes UBIGINT,
    hw_vendor VARCHAR,
    hw_product VARCHAR,
    hw_serial VARCHAR,
    virtualization VARCHAR,
    container VARCHAR,
    cloud VARCHAR,
    labels MAP(VARCHAR, VARCHAR),
    package_count INTEGER NOT NULL,
    error_count INTEGER NOT NULL
);

CREATE TABLE packages (
    report_id VARCHAR NOT NULL,
    asset_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    architecture VARCHAR,
    manager VARCHAR NOT NULL,
    source VARCHAR,
    found_by VARCHAR,
    evidence VARCHAR
);

CREATE TABLE software (
    report_id VARCHAR NOT NULL,
    asset_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    version VARCHAR,
    vendor VARCHAR,
    path VARCHAR,
    found_by VARCHAR,
    evidence VARCHAR
);

CREATE TABLE listeners (
    report_id VARCHAR NOT NULL,
    asset_id VARCHAR NOT NULL,
    protocol VARCHAR,
    address VARCHAR,
    port INTEGER,
    pid INTEGER,
    process VARCHAR,
    exposed BOOLEAN,
    found_by VARCHAR,
    evidence VARCHAR
);

CREATE TABLE interfaces (
    report_id VARCHAR NOT NULL,
    asset_id VARCHAR NOT NULL,
    name VARCHAR,
    mac VARCHAR,
    addresses VARCHAR[]
);

CREATE TABLE disks (
    report_id VARCHAR NOT NULL,
    asset_id VARCHAR NOT NULL,
    device VARCHAR,
    mountpoint VARCHAR,
    fstype VARCHAR,
    total_bytes UBIGINT
);

CREATE TABLE devices (
    report_id VARCHAR NOT NULL,
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
    found_by VARCHAR
);

CREATE TABLE discovery_errors (
    report_id VARCHAR NOT NULL,
    asset_id VARCHAR NOT NULL,
    discoverer VARCHAR,
    message VARCHAR,
    evidence VARCHAR
);

-- The latest report of each asset, by when it was collected (then received).
CREATE VIEW current_reports AS
    SELECT * FROM reports
    QUALIFY row_number() OVER (PARTITION BY asset_id ORDER BY collected_at DESC, received_at DESC, report_id) = 1;
CREATE VIEW current_packages AS SELECT t.* FROM packages t SEMI JOIN current_reports c USING (report_id);
CREATE VIEW current_software AS SELECT t.* FROM software t SEMI JOIN current_reports c USING (report_id);
CREATE VIEW current_listeners AS SELECT t.* FROM listeners t SEMI JOIN current_reports c USING (report_id);
CREATE VIEW current_interfaces AS SELECT t.* FROM interfaces t SEMI JOIN current_reports c USING (report_id);
CREATE VIEW current_devices AS SELECT t.* FROM devices t SEMI JOIN current_reports c USING (report_id);

COMMENT ON TABLE reports IS 'One row per report received: one asset, one scan. Reports are kept for history; current_reports has the latest per asset.';
COMMENT ON COLUMN reports.report_id IS 'UUID chosen by the sender; each is stored once (a resend is a DUPLICATE).';
COMMENT ON COLUMN reports.asset_id IS 'Stable asset identity: dmi:<SMBIOS UUID>, machine-id:<id>, hostname:<name> or snmp:<engine id>.';
COMMENT ON COLUMN reports.collected_at IS 'When the agent gathered the facts (agent clock).';
COMMENT ON COLUMN reports.received_at IS 'When the collector stored the report (collector clock).';
COMMENT ON COLUMN reports.method IS 'How facts were gathered: LOCAL, SSH, SNMP or FILE (a --root tree).';
COMMENT ON COLUMN reports.received_via IS 'How the report arrived: grpc, or file (estate-collector ingest).';
COMMENT ON COLUMN reports.agent_version IS 'Version of the agent that produced the report.';
COMMENT ON COLUMN reports.hostname IS 'Host name as the host reports it.';
COMMENT ON COLUMN reports.fqdn IS 'Fully qualified domain name, where the host resolves one.';
COMMENT ON COLUMN reports.machine_id IS 'systemd/D-Bus machine-id.';
COMMENT ON COLUMN reports.dmi_product_uuid IS 'SMBIOS/DMI system UUID, where readable.';
COMMENT ON COLUMN reports.asset_id_source IS 'Which identity field asset_id was derived from.';
COMMENT ON COLUMN reports.identity_warnings IS 'Identity problems noticed, e.g. a machine-id shared by cloned images.';
COMMENT ON COLUMN reports.os_family IS 'linux, windows, darwin, aix, solaris, hpux, bsd, or a network OS family.';
COMMENT ON COLUMN reports.os_id IS 'Lower-case OS identifier in os-release ID style (debian, rhel, sles, ...).';
COMMENT ON COLUMN reports.os_name IS 'OS name as the OS writes it.';
COMMENT ON COLUMN reports.os_version IS 'Full version string as the OS writes it.';
COMMENT ON COLUMN reports.os_version_id IS 'Machine-readable version (os-release VERSION_ID style).';
COMMENT ON COLUMN reports.os_major IS 'Major version.';
COMMENT ON COLUMN reports.os_codename IS 'Release codename (bookworm, trusty, ...).';
COMMENT ON COLUMN reports.os_pretty_name IS 'Human-readable OS name and version.';
COMMENT ON COLUMN reports.os_id_like IS 'Parent distributions (os-release ID_LIKE).';
COMMENT ON COLUMN reports.os_edition IS 'Edition or variant (Windows edition, os-release VARIANT_ID).';
COMMENT ON COLUMN reports.os_build IS 'Build number, where the OS has one (Windows CurrentBuild.UBR).';
COMMENT ON COLUMN reports.kernel IS 'Kernel release (uname -r).';
COMMENT ON COLUMN reports.architecture IS 'Machine architecture (uname -m).';
COMMENT ON COLUMN reports.os_found_by IS 'Discoverer that identified the OS.';
COMMENT ON COLUMN reports.os_evidence IS 'Files or commands the OS identity was read from.';
COMMENT ON COLUMN reports.hw_cpu_model IS 'CPU model name.';
COMMENT ON COLUMN reports.hw_cpu_count IS 'Logical CPUs.';
COMMENT ON COLUMN reports.hw_memory_bytes IS 'Physical memory in bytes.';
COMMENT ON COLUMN reports.hw_vendor IS 'System vendor (SMBIOS).';
COMMENT ON COLUMN reports.hw_product IS 'System product name (SMBIOS).';
COMMENT ON COLUMN reports.hw_serial IS 'System serial number (SMBIOS), where readable.';
COMMENT ON COLUMN reports.virtualization IS 'Hypervisor when virtual (kvm, vmware, hyperv, ...).';
COMMENT ON COLUMN reports.container IS 'Container runtime when scanned inside one.';
COMMENT ON COLUMN reports.cloud IS 'Cloud provider when detected.';
COMMENT ON COLUMN reports.labels IS 'Labels from the agent configuration: org, department, environment, owner, criticality, system.';
COMMENT ON COLUMN reports.package_count IS 'Number of packages in the report.';
COMMENT ON COLUMN reports.error_count IS 'Number of discovery errors in the report.';

COMMENT ON TABLE packages IS 'Installed packages, one row per package per report.';
COMMENT ON COLUMN packages.report_id IS 'Report the package was found in.';
COMMENT ON COLUMN packages.asset_id IS 'Asset of that report.';
COMMENT ON COLUMN packages.name IS 'Package name as the package manager writes it.';
COMMENT ON COLUMN packages.version IS 'Version as the package manager writes it (compare by the manager''s scheme, not as text).';
COMMENT ON COLUMN packages.architecture IS 'Package architecture (amd64, x86_64, noarch, all, ...).';
COMMENT ON COLUMN packages.manager IS 'Package manager: dpkg, rpm, apk, pacman, snap, flatpak, windows, pip, npm, lslpp, pkginfo, pkg, swlist, hrsw.';
COMMENT ON COLUMN packages.source IS 'Source package, where the manager records it.';
COMMENT ON COLUMN packages.found_by IS 'Discoverer that found the package.';
COMMENT ON COLUMN packages.evidence IS 'File or command the package was read from.';

COMMENT ON TABLE software IS 'Runtimes and servers found outside package managers.';
COMMENT ON COLUMN software.report_id IS 'Report the software was found in.';
COMMENT ON COLUMN software.asset_id IS 'Asset of that report.';
COMMENT ON COLUMN software.name IS 'Product name in lower case (openjdk, python, nginx, ...).';
COMMENT ON COLUMN software.version IS 'Version as read from the binary or its files.';
COMMENT ON COLUMN software.vendor IS 'Vendor or distribution of the runtime.';
COMMENT ON COLUMN software.path IS 'Install location or binary path.';
COMMENT ON COLUMN software.found_by IS 'Discoverer that found it.';
COMMENT ON COLUMN software.evidence IS 'How it was found and where its version came from.';

COMMENT ON TABLE listeners IS 'Listening sockets with their process.';
COMMENT ON COLUMN listeners.report_id IS 'Report the listener was found in.';
COMMENT ON COLUMN listeners.asset_id IS 'Asset of that report.';
COMMENT ON COLUMN listeners.protocol IS 'tcp, tcp6, udp or udp6.';
COMMENT ON COLUMN listeners.address IS 'Local address listened on.';
COMMENT ON COLUMN listeners.port IS 'Local port.';
COMMENT ON COLUMN listeners.pid IS 'Process id, where known.';
COMMENT ON COLUMN listeners.process IS 'Process name, where known.';
COMMENT ON COLUMN listeners.exposed IS 'True when listening beyond loopback.';
COMMENT ON COLUMN listeners.found_by IS 'Discoverer that found it.';
COMMENT ON COLUMN listeners.evidence IS 'Where the listener was read from (psutil, ss, /proc/net).';

COMMENT ON TABLE interfaces IS 'Network interfaces with their MAC and addresses.';
COMMENT ON COLUMN interfaces.report_id IS 'Report the interface was found in.';
COMMENT ON COLUMN interfaces.asset_id IS 'Asset of that report.';
COMMENT ON COLUMN interfaces.name IS 'Interface name.';
COMMENT ON COLUMN interfaces.mac IS 'Hardware address.';
COMMENT ON COLUMN interfaces.addresses IS 'IPv4 and IPv6 addresses.';

COMMENT ON TABLE disks IS 'Mounted disks and their sizes.';
COMMENT ON COLUMN disks.report_id IS 'Report the disk was found in.';
COMMENT ON COLUMN disks.asset_id IS 'Asset of that report.';
COMMENT ON COLUMN disks.device IS 'Block device.';
COMMENT ON COLUMN disks.mountpoint IS 'Where it is mounted.';
COMMENT ON COLUMN disks.fstype IS 'File system type.';
COMMENT ON COLUMN disks.total_bytes IS 'Size in bytes.';

COMMENT ON TABLE devices IS 'Network devices discovered over SNMP, one row per report.';
COMMENT ON COLUMN devices.report_id IS 'Report of the device.';
COMMENT ON COLUMN devices.asset_id IS 'Asset of that report.';
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

COMMENT ON TABLE discovery_errors IS 'Discoverers that failed or met bad input, per report; the rest of the report was still stored.';
COMMENT ON COLUMN discovery_errors.report_id IS 'Report the error came with.';
COMMENT ON COLUMN discovery_errors.asset_id IS 'Asset of that report.';
COMMENT ON COLUMN discovery_errors.discoverer IS 'The discoverer that failed.';
COMMENT ON COLUMN discovery_errors.message IS 'What went wrong.';
COMMENT ON COLUMN discovery_errors.evidence IS 'Where: file and line, command or OID.';
