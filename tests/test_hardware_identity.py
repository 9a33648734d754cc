"""Hardware, virtualisation/container/cloud detection, and the asset_id rule with duplicate patterns."""

from __future__ import annotations

from pathlib import Path

from estate.agent.discovery import hardware, identity
from estate.agent.hostaccess import LocalHost, RecordedHost
from estate.v1 import inventory_pb2 as pb

# DMI strings as the platforms set them (sys_vendor, product_name, bios_version, chassis_asset_tag).
PLATFORMS = {
    "aws-nitro": ({"sys_vendor": "Amazon EC2", "product_name": "m5.large", "bios_vendor": "Amazon EC2"}, "kvm", "aws"),
    "aws-xen": ({"sys_vendor": "Xen", "product_name": "HVM domU", "bios_version": "4.2.amazon"}, "xen", "aws"),
    "azure": ({"sys_vendor": "Microsoft Corporation", "product_name": "Virtual Machine",
               "chassis_asset_tag": "7783-7084-3265-9085-8269-3286-77"}, "hyperv", "azure"),
    "gcp": ({"sys_vendor": "Google", "product_name": "Google Compute Engine"}, "kvm", "gcp"),
    "vmware": ({"sys_vendor": "VMware, Inc.", "product_name": "VMware Virtual Platform"}, "vmware", ""),
    "kvm": ({"sys_vendor": "QEMU", "product_name": "Standard PC (i440FX + PIIX, 1996)"}, "kvm", ""),
    "metal": ({"sys_vendor": "Dell Inc.", "product_name": "PowerEdge R740"}, "", ""),
}


def test_virtualisation_and_cloud_from_dmi(tmp_path: Path) -> None:
    for name, (dmi, virt, cloud) in PLATFORMS.items():
        root = tmp_path / name / "sys/class/dmi/id"
        root.mkdir(parents=True)
        for field, value in dmi.items():
            (root / field).write_text(value + "\n")
        hw = hardware.discover(RecordedHost(tmp_path / name)).host.hardware
        assert (hw.virtualization, hw.cloud, hw.vendor) == (virt, cloud, dmi["sys_vendor"]), name


def test_cpu_memory_mounts_and_container_from_a_recorded_host(tmp_path: Path) -> None:
    (tmp_path / "proc" / "1").mkdir(parents=True)
    (tmp_path / "proc" / "cpuinfo").write_text(Path("/proc/cpuinfo").read_text())  # this machine's, real
    (tmp_path / "proc" / "meminfo").write_text("MemTotal:        8039376 kB\nMemFree:  100 kB\n")
    (tmp_path / "proc" / "mounts").write_text("/dev/sda1 / ext4 rw 0 0\nproc /proc proc rw 0 0\n"
                                              "/dev/sdb1 /data xfs rw 0 0\n")
    (tmp_path / "proc" / "1" / "cgroup").write_text("0::/kubepods/besteffort/pod1/abc\n")
    hw = hardware.discover(RecordedHost(tmp_path)).host.hardware
    assert hw.cpu_count == Path("/proc/cpuinfo").read_text().count("processor\t:") and hw.cpu_model
    assert hw.memory_bytes == 8039376 * 1024
    assert [(d.device, d.mountpoint, d.fstype) for d in hw.disks] == [("/dev/sda1", "/", "ext4"),
                                                                      ("/dev/sdb1", "/data", "xfs")]
    assert hw.container == "kubernetes"


def test_live_hardware() -> None:
    hw = hardware.discover(LocalHost()).host.hardware
    assert hw.cpu_count >= 1 and hw.memory_bytes > 0 and hw.cpu_model
    if Path("/.dockerenv").exists():
        assert hw.container == "docker"


def host(**fields: str) -> pb.Host:
    result = pb.Host(**fields)  # type: ignore[arg-type]
    return result


def test_asset_id_rule() -> None:
    dmi, mid = "4c4c4544-0051-3610-8052-b4c04f4b4e32", "3d1219c7c4c5404aaa1f6d2a48adfda4"
    assert identity.asset_id_for(host(dmi_product_uuid=dmi, machine_id=mid)) == (
        f"dmi:{dmi}/machine-id:{mid}", "dmi_product_uuid+machine_id")
    # Two clones of one template: same machine-id, new SMBIOS UUIDs -> different assets.
    clone = identity.asset_id_for(host(dmi_product_uuid="4c4c4544-0051-3610-8052-b4c04f4b4e33", machine_id=mid))
    assert clone[0] != identity.asset_id_for(host(dmi_product_uuid=dmi, machine_id=mid))[0]
    # In a container the DMI UUID is the host's: not used.
    boxed = host(dmi_product_uuid=dmi, machine_id=mid)
    boxed.hardware.container = "docker"
    assert identity.asset_id_for(boxed) == (f"machine-id:{mid}", "machine_id")
    assert identity.asset_id_for(host(hostname="web01")) == ("hostname:web01", "hostname")


def test_duplicate_patterns_are_flagged_and_kept_out_of_the_id(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "var/lib/dbus").mkdir(parents=True)
    (tmp_path / "etc" / "machine-id").write_text("uninitialized\n")
    (tmp_path / "var/lib/dbus/machine-id").write_text("0f1e2d3c4b5a69788796a5b4c3d2e1f0\n")
    (tmp_path / "etc" / "hostname").write_text("web01\n")
    found = identity.discover(LocalHost(str(tmp_path)))
    assert found.host.machine_id == "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    assert any("/etc/machine-id is 'uninitialized'" in w for w in found.host.identity_warnings)
    assert identity.dmi_uuid_problem("03000200-0400-0500-0006-000700080009")
    assert identity.dmi_uuid_problem("11111111-1111-1111-1111-111111111111")
    assert not identity.dmi_uuid_problem("4c4c4544-0051-3610-8052-b4c04f4b4e32")


def test_machine_id_files_that_disagree(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "var/lib/dbus").mkdir(parents=True)
    (tmp_path / "etc" / "machine-id").write_text("a" * 32 + "\n")
    (tmp_path / "var/lib/dbus/machine-id").write_text("b" * 32 + "\n")
    warnings = identity.discover(LocalHost(str(tmp_path))).host.identity_warnings
    assert warnings == ["/etc/machine-id and /var/lib/dbus/machine-id disagree: " + "a" * 32 + " used"]


def test_interfaces_and_disks_without_psutil_agree_with_psutil() -> None:
    import socket

    import psutil

    from estate.agent.discovery import _netif

    ours = _netif.interfaces()
    theirs = psutil.net_if_addrs()
    assert set(ours) == set(theirs)
    for name, addrs in theirs.items():
        mac, addresses = ours[name]
        assert mac == next((a.address for a in addrs if a.family == psutil.AF_LINK), "")
        assert sorted(addresses) == sorted(a.address.split("%", 1)[0] for a in addrs
                                           if a.family in (socket.AF_INET, socket.AF_INET6))
    disks = hardware.discover(LocalHost()).host.hardware.disks
    assert {(d.device, d.mountpoint) for d in disks} == {(p.device, p.mountpoint)
                                                         for p in psutil.disk_partitions(all=False)}


def test_fqdn_matches_socket_getfqdn() -> None:
    import socket

    from estate.agent.discovery.identity import fqdn_of

    for name in (socket.gethostname(), "localhost", "no-such-host.invalid"):
        assert fqdn_of(name) == socket.getfqdn(name)
