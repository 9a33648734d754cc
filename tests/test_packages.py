"""Package managers other than dpkg: apk, pacman, rpmdb.sqlite read directly, snap, flatpak, pip, npm.

Each is tested on a real file (tests/fixtures/<source>/, see SOURCE.md there) placed in a --root
tree, and on broken input: truncated, garbage, oversized, unreadable.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from estate.agent.discovery import apk, flatpak, node_packages, pacman, python_packages, rpm, rpmdb, snap
from estate.agent.hostaccess import LocalHost, RecordedHost

from .conftest import FIXTURES
from .programs import program


def place(root: Path, path: str, data: bytes | str) -> Path:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        target.write_text(data)
    else:
        target.write_bytes(data)
    return target


def test_apk_real_database_and_truncated_last_stanza(tmp_path: Path) -> None:
    place(tmp_path, apk.APK_INSTALLED, (FIXTURES / "apk" / "installed").read_bytes())
    found = apk.discover(LocalHost(str(tmp_path)))
    assert [(p.name, p.version, p.architecture, p.source) for p in found.packages] == [
        ("musl", "1.1.14-r14", "x86_64", "musl"), ("zlib", "1.2.8-r2", "x86_64", "zlib"),
        ("libcrypto1.0", "1.0.2j-r0", "x86_64", "openssl")]
    assert [e.message for e in found.errors] == [f"{apk.APK_INSTALLED}:66: stanza without P: and V: (truncated file?)"]


def test_pacman_real_desc_and_a_broken_one(tmp_path: Path) -> None:
    place(tmp_path, f"{pacman.PACMAN_LOCAL}/pacman-4.2.1-2/desc", (FIXTURES / "pacman" / "desc").read_bytes())
    place(tmp_path, f"{pacman.PACMAN_LOCAL}/ALPM_DB_VERSION", "9\n")
    place(tmp_path, f"{pacman.PACMAN_LOCAL}/broken-1-1/desc", b"\x00\xff garbage")
    place(tmp_path, f"{pacman.PACMAN_LOCAL}/half-1-1/desc", "%NAME%\nhalf\n\n%VERS")
    found = pacman.discover(LocalHost(str(tmp_path)))
    assert [(p.name, p.version, p.architecture, p.manager) for p in found.packages] == [
        ("pacman", "4.2.1-2", "x86_64", "pacman")]
    messages = [e.message for e in found.errors]
    assert any("broken-1-1/desc: contains NUL bytes" in m for m in messages)
    assert any("half-1-1/desc: no %NAME% or %VERSION%" in m for m in messages)


def test_rpmdb_sqlite_under_root_without_the_rpm_command(tmp_path: Path) -> None:
    place(tmp_path, "/var/lib/rpm/rpmdb.sqlite", (FIXTURES / "rpmdb" / "rpmdb.sqlite").read_bytes())
    found = rpm.discover(LocalHost(str(tmp_path)))  # --root: commands refused, the database is read
    assert sorted((p.name, p.version, p.architecture, p.source) for p in found.packages) == [
        ("bash", "4.2.46-34.el7", "noarch", "bash"), ("openssl-libs", "1:1.0.2k-25.el7_9", "noarch", "openssl-libs"),
        ("tzdata", "2024a-1.el7", "noarch", "tzdata")]
    assert not found.errors
    assert not (tmp_path / "var/lib/rpm/rpmdb.sqlite-wal").exists()  # nothing written into the image


def test_rpmdb_path_with_percent_escapes_stays_inside_the_root(tmp_path: Path) -> None:
    """A symlink in the image whose target holds '%2e%2e' names a folder inside the root (holding an
    empty file here), not the one outside it that SQLite reaches by decoding the URI."""
    root = tmp_path / "root"
    link = "x/%2e%2e/%2e%2e/%2e%2e/%2e%2e/outside"
    (root / "var/lib").mkdir(parents=True)
    (root / "var/lib/rpm").symlink_to(link)
    place(root, f"/var/lib/{link}/rpmdb.sqlite", b"")  # what the image really holds
    place(tmp_path, "/outside/rpmdb.sqlite", (FIXTURES / "rpmdb" / "rpmdb.sqlite").read_bytes())
    found = rpm.discover(LocalHost(str(root)))
    assert not found.packages and found.errors  # the empty file inside was read, not the database outside


def test_rpmdb_under_a_root_whose_name_holds_a_hash(tmp_path: Path) -> None:
    """--root /images/img#1: the '#' would end the URI's path at /images/img, another file."""
    root = tmp_path / "img#1"
    place(root, "/var/lib/rpm/rpmdb.sqlite", (FIXTURES / "rpmdb" / "rpmdb.sqlite").read_bytes())
    place(tmp_path, "/img", b"not a database")  # what the truncated path would open instead
    found = rpm.discover(LocalHost(str(root)))
    assert len(found.packages) == 3 and not found.errors


def test_rpmdb_through_a_recorded_host_is_copied_to_a_private_file(tmp_path: Path) -> None:
    place(tmp_path, "/var/lib/rpm/rpmdb.sqlite", (FIXTURES / "rpmdb" / "rpmdb.sqlite").read_bytes())
    found = rpm.discover(RecordedHost(tmp_path))  # no `rpm -qa` recording: the host has no rpm command
    assert len(found.packages) == 3 and not found.errors


def test_rpmdb_reader_agrees_with_rpm_itself(tmp_path: Path) -> None:
    top, db = tmp_path / "build", tmp_path / "db"
    (top / "SPECS").mkdir(parents=True)
    specs = [("glibc", "2.17", "326.el7_9", "", "x86_64"), ("kernel", "3.10.0", "1160.el7", "", "x86_64"),
             ("java-1.8.0-openjdk", "1.8.0.412.b08", "1.el7_9", "1", "x86_64")]
    for name, version, release, epoch, arch in specs:
        (top / "SPECS" / f"{name}.spec").write_text(
            f"Name: {name}\nVersion: {version}\nRelease: {release}\n" + (f"Epoch: {epoch}\n" if epoch else "")
            + f"Summary: test\nLicense: MIT\nBuildArch: {arch}\n"
            # Who ships it, as Red Hat's packages say (kernel left without, as third-party RPMs often are).
            + ("" if name == "kernel" else "Vendor: Red Hat, Inc.\nPackager: Red Hat, Inc. "
               "<http://bugzilla.redhat.com/bugzilla>\nDistribution: Red Hat\n")
            + "%description\ntest\n%files\n")
        subprocess.run([program("rpmbuild"), "--quiet", "--define", f"_topdir {top}", "--target", arch, "-bb",
                        str(top / "SPECS" / f"{name}.spec")], check=True, capture_output=True, timeout=120)
    rpms = [str(p) for p in (top / "RPMS").rglob("*.rpm")]
    subprocess.run([program("rpm"), "--dbpath", str(db), "--initdb"], check=True, timeout=60)
    subprocess.run([program("rpm"), "--dbpath", str(db), "-i", "--justdb", "--nodeps", "--ignorearch", "--ignoreos",
                    *rpms],
                   check=True, capture_output=True, timeout=120)
    query = subprocess.run([program("rpm"), "--dbpath", str(db), *rpm.RPM_QUERY[1:]], check=True, capture_output=True,
                           text=True, timeout=60).stdout
    expected, _ = rpm.parse_rpm_query(query)
    found, problems = rpmdb.read_sqlite_packages(str(db / "rpmdb.sqlite"), "x")
    assert not problems
    fields = ("name", "version", "architecture", "source", "origin", "maintainer", "distribution")
    assert sorted(tuple(getattr(p, f) for f in fields) for p in found) == sorted(
        tuple(getattr(p, f) for f in fields) for p in expected)
    assert {p.name: p.origin for p in found}["glibc"] == "Red Hat, Inc."
    assert {p.name: p.origin for p in found}["kernel"] == ""
    assert ("java-1.8.0-openjdk", "1:1.8.0.412.b08-1.el7_9") in {(p.name, p.version) for p in found}


def test_damaged_rpm_headers_give_an_error_per_row_and_keep_the_rest(tmp_path: Path) -> None:
    db = tmp_path / "rpmdb.sqlite"
    shutil.copy(FIXTURES / "rpmdb" / "rpmdb.sqlite", db)
    with sqlite3.connect(db) as connection:
        blob = connection.execute("SELECT blob FROM Packages WHERE hnum = 1").fetchone()[0]
        connection.execute("UPDATE Packages SET blob = ? WHERE hnum = 1", (blob[:40],))  # truncated
        connection.execute("UPDATE Packages SET blob = ? WHERE hnum = 2", (b"\xff" * 64,))  # garbage
    connection.close()
    found, problems = rpmdb.read_sqlite_packages(str(db), "/var/lib/rpm/rpmdb.sqlite")
    assert len(found) == 1
    assert any("package row 1: claims" in p for p in problems)
    assert any("package row 2: index of" in p for p in problems)
    with pytest.raises(rpmdb.HeaderError, match="shorter than"):
        rpmdb.parse_header(b"\0\0")


def test_garbage_rpmdb_file_and_berkeley_db(tmp_path: Path) -> None:
    place(tmp_path, "/var/lib/rpm/rpmdb.sqlite", os.urandom(8192))
    found = rpm.discover(LocalHost(str(tmp_path)))
    assert not found.packages and "not an rpm database" in found.errors[0].message
    other = tmp_path / "bdb"
    place(other, "/var/lib/rpm/Packages", b"\0" * 4096)
    found = rpm.discover(LocalHost(str(other)))
    assert "not a Berkeley DB hash database (bad magic number)" in found.errors[0].message


def test_snap_and_flatpak_layouts(tmp_path: Path) -> None:
    # snap.yaml as snapd writes it for core20; flatpak metainfo as Flathub ships it.
    place(tmp_path, "/snap/core20/1828/meta/snap.yaml",
          "name: core20\nversion: '20230207'\nsummary: Runtime environment based on Ubuntu 20.04\n"
          "architectures:\n- amd64\nbase: none\ntype: base\n")
    os.symlink("1828", tmp_path / "snap" / "core20" / "current")
    place(tmp_path, "/snap/bin/placeholder", "")
    active = "/var/lib/flatpak/app/org.mozilla.firefox/x86_64/stable/active"
    place(tmp_path, f"{active}/files/share/metainfo/org.mozilla.firefox.metainfo.xml",
          '<component><releases><release version="115.0.2" date="2023-07-10"/>'
          '<release version="115.0.1"/></releases></component>')
    place(tmp_path, "/var/lib/flatpak/runtime/org.freedesktop.Platform/x86_64/22.08/active/metadata", "[Runtime]\n")
    host = LocalHost(str(tmp_path))
    assert [(p.name, p.version, p.architecture) for p in snap.discover(host).packages] == [
        ("core20", "20230207", "amd64")]
    flat = flatpak.discover(host)
    assert sorted((p.name, p.version, p.evidence.split(":", 1)[0]) for p in flat.packages) == [
        ("org.freedesktop.Platform", "22.08", "runtime/org.freedesktop.Platform/x86_64/22.08"),
        ("org.mozilla.firefox", "115.0.2", "app/org.mozilla.firefox/x86_64/stable")]


def test_pip_and_npm_system_wide_packages(tmp_path: Path) -> None:
    site = "/usr/lib/python3/dist-packages"
    for name in ("requests-2.28.1.dist-info", "six-1.16.0.egg-info", "PyYAML-6.0-py3.11.egg-info",
                 "zope.interface-5.5.2-py3.11-nspkg.pth"):
        (tmp_path / site.lstrip("/") / name).mkdir(parents=True)
    place(tmp_path, f"{site}/noversion.egg-info/PKG-INFO", "Metadata-Version: 1.1\nName: noversion\nVersion: 0.3\n\n")
    place(tmp_path, "/usr/local/lib/python3.11/site-packages/flask-2.2.2.dist-info/METADATA", "")
    (tmp_path / "usr/lib/python3.11").mkdir(parents=True)
    place(tmp_path, "/usr/lib/node_modules/npm/package.json", '{"name": "npm", "version": "9.2.0"}')
    place(tmp_path, "/usr/lib/node_modules/@angular/cli/package.json", '{"name": "@angular/cli", "version": "15.2.4"}')
    place(tmp_path, "/usr/lib/node_modules/evil/package.json", '["not", "an", "object"]')
    place(tmp_path, "/usr/lib/node_modules/huge/package.json", "{" + " " * (2 * 1024 * 1024) + "}")
    host = LocalHost(str(tmp_path))
    pip = {(p.name, p.version) for p in python_packages.discover(host).packages}
    assert pip == {("requests", "2.28.1"), ("six", "1.16.0"), ("PyYAML", "6.0"), ("noversion", "0.3"),
                   ("flask", "2.2.2")}
    npm = node_packages.discover(host)
    assert {(p.name, p.version) for p in npm.packages} == {("npm", "9.2.0"), ("@angular/cli", "15.2.4")}
    messages = [e.message for e in npm.errors]
    assert any("evil/package.json: not a package.json" in m for m in messages)
    assert any("huge/package.json: larger than" in m for m in messages)


def test_berkeley_db_packages_under_root(tmp_path: Path) -> None:
    place(tmp_path, "/var/lib/rpm/Packages", (FIXTURES / "rpmdb" / "Packages").read_bytes())
    found = rpm.discover(LocalHost(str(tmp_path)))
    assert sorted((p.name, p.version, p.architecture, p.source) for p in found.packages) == [
        ("bash", "4.2.46-34.el7", "noarch", "bash"), ("openssl-libs", "1:1.0.2k-25.el7_9", "noarch", "openssl-libs"),
        ("tzdata", "2024a-1.el7", "noarch", "tzdata")]
    assert not found.errors and all(p.evidence == "/var/lib/rpm/Packages" for p in found.packages)


def test_berkeley_db_written_by_berkeley_db_itself(tmp_path: Path) -> None:
    import struct

    with sqlite3.connect(f"file:{FIXTURES / 'rpmdb' / 'rpmdb.sqlite'}?mode=ro", uri=True) as connection:
        rows = connection.execute("SELECT hnum, blob FROM Packages").fetchall()
    connection.close()

    def text(data: bytes) -> str:
        return "".join(chr(c) if 32 < c < 127 and c != 92 else f"\\{c:02x}" for c in data)

    dump = tmp_path / "dump.txt"
    dump.write_text("".join(f"{text(struct.pack('<I', hnum))}\n{text(blob)}\n" for hnum, blob in rows))
    for page_size in (512, 4096, 16384):  # 512: every header spans several overflow pages
        target = tmp_path / f"Packages-{page_size}"
        subprocess.run([program("db5.3_load"), "-T", "-t", "hash", "-c", f"db_pagesize={page_size}", "-f", str(dump),
                        str(target)], check=True, timeout=60)
        found, problems = rpmdb.read_bdb_packages(target.read_bytes(), "Packages")
        assert not problems and len(found) == 3, page_size


def test_damaged_berkeley_db_gives_errors_not_a_crash(tmp_path: Path) -> None:
    good = (FIXTURES / "rpmdb" / "Packages").read_bytes()
    truncated, problems = rpmdb.read_bdb_packages(good[: len(good) - 4096], "Packages")
    assert len(truncated) == 2 and any("broken overflow chain" in p for p in problems)
    looped = bytearray(good)
    looped[3 * 4096 + 16:3 * 4096 + 20] = (3).to_bytes(4, "little")  # an overflow page pointing at itself
    looped[3 * 4096 + 22:3 * 4096 + 24] = (16).to_bytes(2, "little")
    found, problems = rpmdb.read_bdb_packages(bytes(looped), "Packages")
    assert len(found) == 2 and any("broken overflow chain at page 3" in p for p in problems)
