"""Hardware: CPU, memory, disks, and whether the host is virtual, a container or in a cloud.

CPU model and memory come from /proc (so an SSH host or a capture gives them too), the CPU count
and disk sizes from psutil on the live host. Virtualisation and cloud are read from the DMI
strings the hypervisor or cloud sets (tables below), container from the runtime's marker files.
"""

from __future__ import annotations

import os

from estate.agent.discovery._common import read_text
from estate.agent.hostaccess import HostAccess, HostAccessError
from estate.v1 import inventory_pb2 as pb

DMI = "/sys/class/dmi/id"
DMI_FIELDS = ("sys_vendor", "product_name", "product_version", "bios_vendor", "bios_version", "chassis_asset_tag",
              "product_serial")
# (DMI field, lower-case substring) -> hypervisor; first match wins.
VIRTUALIZATION = (
    ("product_name", "vmware", "vmware"), ("sys_vendor", "vmware", "vmware"),
    ("sys_vendor", "qemu", "kvm"), ("product_name", "kvm", "kvm"), ("bios_vendor", "seabios", "kvm"),
    ("sys_vendor", "microsoft corporation", "hyperv"), ("product_name", "virtualbox", "virtualbox"),
    ("sys_vendor", "xen", "xen"), ("bios_version", "amazon", "xen"), ("sys_vendor", "amazon ec2", "kvm"),
    ("product_name", "google compute engine", "kvm"), ("sys_vendor", "parallels", "parallels"),
    ("sys_vendor", "nutanix", "kvm"), ("product_name", "openstack", "kvm"), ("sys_vendor", "alibaba cloud", "kvm"),
)
CLOUDS = (
    ("sys_vendor", "amazon ec2", "aws"), ("bios_version", "amazon", "aws"), ("bios_vendor", "amazon ec2", "aws"),
    ("product_name", "google compute engine", "gcp"), ("sys_vendor", "google", "gcp"),
    ("chassis_asset_tag", "7783-7084-3265-9085-8269-3286-77", "azure"),
    ("chassis_asset_tag", "oraclecloud.com", "oci"), ("sys_vendor", "alibaba cloud", "alibaba"),
    ("sys_vendor", "digitalocean", "digitalocean"), ("sys_vendor", "hetzner", "hetzner"),
    ("sys_vendor", "openstack", "openstack"), ("product_name", "openstack", "openstack"),
)
# Marker file -> container runtime.
CONTAINER_MARKERS = (("/.dockerenv", "docker"), ("/run/.containerenv", "podman"))
CGROUP_HINTS = (("kubepods", "kubernetes"), ("docker", "docker"), ("libpod", "podman"), ("lxc", "lxc"),
                ("containerd", "containerd"))
REAL_FSTYPES = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "jfs", "reiserfs", "vfat", "ntfs", "f2fs",
                          "ocfs2", "gfs2", "nfs", "nfs4", "cifs", "overlay"})
MAX_DISKS = 200
FOUND_BY = "hardware"


def match_table(table: tuple[tuple[str, str, str], ...], dmi: dict[str, str]) -> tuple[str, str]:
    """First table row whose substring is in the DMI field: (value, evidence)."""
    for field_name, needle, value in table:
        if needle in dmi.get(field_name, "").lower():
            return value, f"{DMI}/{field_name}={dmi[field_name]!r}"
    return "", ""


def cpu_model(cpuinfo: str) -> tuple[str, int, bool]:
    """Model name, processor count and whether the CPU reports the hypervisor flag."""
    model, count, hypervisor = "", 0, False
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "processor":
            count += 1
        elif key in ("model name", "Processor", "cpu model", "cpu") and not model:
            model = value.strip()[:256]
        elif key == "flags" and " hypervisor" in f" {value} ":
            hypervisor = True
    return model, count, hypervisor


def mem_total(meminfo: str) -> int:
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1]) * (1024 if len(parts) < 3 or parts[2].lower() == "kb" else 1)
    return 0


def discover(host: HostAccess) -> pb.Inventory:
    found = pb.Inventory()
    hw = found.host.hardware
    evidence: list[str] = []
    cpuinfo = read_text(host, "/proc/cpuinfo", 4 * 1024 * 1024, found, FOUND_BY) or ""
    model, count, hypervisor_flag = cpu_model(cpuinfo)
    hw.cpu_model = model
    hw.cpu_count = (os.cpu_count() or count) if host.is_live else count
    hw.memory_bytes = mem_total(read_text(host, "/proc/meminfo", 1024 * 1024, found, FOUND_BY) or "")
    dmi: dict[str, str] = {}
    for name in DMI_FIELDS:
        if not host.exists(f"{DMI}/{name}"):
            continue
        value: str | None
        if name == "product_serial":  # root-only on most systems: no error entry for a normal agent
            try:
                value = host.read_text(f"{DMI}/{name}", 4096)
            except (OSError, HostAccessError):
                continue
        else:
            value = read_text(host, f"{DMI}/{name}", 4096, found, FOUND_BY)
        if value and value.strip():
            dmi[name] = value.strip()[:256]
    hw.vendor, hw.product = dmi.get("sys_vendor", ""), dmi.get("product_name", "")
    hw.serial = dmi.get("product_serial", "")
    hw.virtualization, how = match_table(VIRTUALIZATION, dmi)
    if not hw.virtualization and host.exists("/sys/hypervisor/type"):
        hw.virtualization = (read_text(host, "/sys/hypervisor/type", 256, found, FOUND_BY) or "").strip()
        how = "/sys/hypervisor/type"
    if not hw.virtualization and hypervisor_flag:
        hw.virtualization, how = "unknown", "/proc/cpuinfo hypervisor flag"
    if how:
        evidence.append(f"virtualization: {how}")
    hw.cloud, how = match_table(CLOUDS, dmi)
    if how:
        evidence.append(f"cloud: {how}")
    for marker, runtime in CONTAINER_MARKERS:
        if host.exists(marker):
            hw.container = runtime
            evidence.append(f"container: {marker}")
            break
    if not hw.container:
        cgroup = read_text(host, "/proc/1/cgroup", 64 * 1024, found, FOUND_BY) or ""
        runtime = next((r for hint, r in CGROUP_HINTS if hint in cgroup), "")
        if runtime:
            hw.container = runtime
            evidence.append("container: /proc/1/cgroup")
    if host.is_live:
        _live_disks(hw)
    else:
        _mounted_disks(host, found, hw)
    hw.found_by = FOUND_BY
    hw.evidence = "; ".join(evidence)
    return found


def _live_disks(hw: pb.Hardware) -> None:
    """Mounted filesystems on devices (as psutil.disk_partitions(all=False)) and their sizes.

    Linux reads /proc/self/mounts and /proc/filesystems itself (psutil's import alone costs ~15 ms);
    other systems use psutil.
    """
    import os

    if os.path.exists("/proc/self/mounts"):  # noqa: PTH110
        try:
            with open("/proc/filesystems", encoding="utf-8") as handle:
                physical = {line.split()[-1] for line in handle if line.strip() and not line.startswith("nodev")}
            with open("/proc/self/mounts", encoding="utf-8", errors="replace") as handle:
                mounts = handle.read(4 * 1024 * 1024).splitlines()
        except OSError:
            return
        for line in mounts:
            fields = line.split()
            if len(fields) < 3 or fields[2] not in physical or len(hw.disks) >= MAX_DISKS:
                continue
            mountpoint = fields[1].replace("\\040", " ")
            try:
                st = os.statvfs(mountpoint)
                total = st.f_blocks * st.f_frsize
            except OSError:
                total = 0
            hw.disks.add(device=fields[0], mountpoint=mountpoint, fstype=fields[2], total_bytes=total)
        return
    import psutil

    try:
        partitions = psutil.disk_partitions(all=False)
    except OSError:
        return
    for part in partitions[:MAX_DISKS]:
        try:
            total = psutil.disk_usage(part.mountpoint).total
        except OSError:
            total = 0
        hw.disks.add(device=part.device, mountpoint=part.mountpoint, fstype=part.fstype, total_bytes=total)


def _mounted_disks(host: HostAccess, found: pb.Inventory, hw: pb.Hardware) -> None:
    for line in (read_text(host, "/proc/mounts", 4 * 1024 * 1024, found, FOUND_BY) or "").splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] in REAL_FSTYPES and len(hw.disks) < MAX_DISKS:
            hw.disks.add(device=fields[0], mountpoint=fields[1], fstype=fields[2])
