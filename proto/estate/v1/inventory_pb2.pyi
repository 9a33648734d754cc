import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Method(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    METHOD_UNSPECIFIED: _ClassVar[Method]
    METHOD_LOCAL: _ClassVar[Method]
    METHOD_SSH: _ClassVar[Method]
    METHOD_SNMP: _ClassVar[Method]
    METHOD_FILE: _ClassVar[Method]
    METHOD_WINRM: _ClassVar[Method]
METHOD_UNSPECIFIED: Method
METHOD_LOCAL: Method
METHOD_SSH: Method
METHOD_SNMP: Method
METHOD_FILE: Method
METHOD_WINRM: Method

class Inventory(_message.Message):
    __slots__ = ("report_id", "asset_id", "collected_at", "method", "host", "os", "packages", "software", "listeners", "device", "labels", "errors", "agent_version", "sweep", "package_columns")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REPORT_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    COLLECTED_AT_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    OS_FIELD_NUMBER: _ClassVar[int]
    PACKAGES_FIELD_NUMBER: _ClassVar[int]
    SOFTWARE_FIELD_NUMBER: _ClassVar[int]
    LISTENERS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    SWEEP_FIELD_NUMBER: _ClassVar[int]
    PACKAGE_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    report_id: str
    asset_id: str
    collected_at: _timestamp_pb2.Timestamp
    method: Method
    host: Host
    os: OperatingSystem
    packages: _containers.RepeatedCompositeFieldContainer[Package]
    software: _containers.RepeatedCompositeFieldContainer[Software]
    listeners: _containers.RepeatedCompositeFieldContainer[Listener]
    device: Device
    labels: _containers.ScalarMap[str, str]
    errors: _containers.RepeatedCompositeFieldContainer[DiscoveryError]
    agent_version: str
    sweep: Sweep
    package_columns: PackageColumns
    def __init__(self, report_id: _Optional[str] = ..., asset_id: _Optional[str] = ..., collected_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., method: _Optional[_Union[Method, str]] = ..., host: _Optional[_Union[Host, _Mapping]] = ..., os: _Optional[_Union[OperatingSystem, _Mapping]] = ..., packages: _Optional[_Iterable[_Union[Package, _Mapping]]] = ..., software: _Optional[_Iterable[_Union[Software, _Mapping]]] = ..., listeners: _Optional[_Iterable[_Union[Listener, _Mapping]]] = ..., device: _Optional[_Union[Device, _Mapping]] = ..., labels: _Optional[_Mapping[str, str]] = ..., errors: _Optional[_Iterable[_Union[DiscoveryError, _Mapping]]] = ..., agent_version: _Optional[str] = ..., sweep: _Optional[_Union[Sweep, _Mapping]] = ..., package_columns: _Optional[_Union[PackageColumns, _Mapping]] = ...) -> None: ...

class StringColumn(_message.Message):
    __slots__ = ("offsets", "data")
    OFFSETS_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    offsets: bytes
    data: bytes
    def __init__(self, offsets: _Optional[bytes] = ..., data: _Optional[bytes] = ...) -> None: ...

class PackageColumns(_message.Message):
    __slots__ = ("count", "name", "version", "architecture", "manager", "source", "found_by", "evidence", "origin", "maintainer", "distribution", "component")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ARCHITECTURE_FIELD_NUMBER: _ClassVar[int]
    MANAGER_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FOUND_BY_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    MAINTAINER_FIELD_NUMBER: _ClassVar[int]
    DISTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    COMPONENT_FIELD_NUMBER: _ClassVar[int]
    count: int
    name: StringColumn
    version: StringColumn
    architecture: StringColumn
    manager: StringColumn
    source: StringColumn
    found_by: StringColumn
    evidence: StringColumn
    origin: StringColumn
    maintainer: StringColumn
    distribution: StringColumn
    component: StringColumn
    def __init__(self, count: _Optional[int] = ..., name: _Optional[_Union[StringColumn, _Mapping]] = ..., version: _Optional[_Union[StringColumn, _Mapping]] = ..., architecture: _Optional[_Union[StringColumn, _Mapping]] = ..., manager: _Optional[_Union[StringColumn, _Mapping]] = ..., source: _Optional[_Union[StringColumn, _Mapping]] = ..., found_by: _Optional[_Union[StringColumn, _Mapping]] = ..., evidence: _Optional[_Union[StringColumn, _Mapping]] = ..., origin: _Optional[_Union[StringColumn, _Mapping]] = ..., maintainer: _Optional[_Union[StringColumn, _Mapping]] = ..., distribution: _Optional[_Union[StringColumn, _Mapping]] = ..., component: _Optional[_Union[StringColumn, _Mapping]] = ...) -> None: ...

class Sweep(_message.Message):
    __slots__ = ("scanner", "inventory", "entry", "target")
    SCANNER_FIELD_NUMBER: _ClassVar[int]
    INVENTORY_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    scanner: str
    inventory: str
    entry: str
    target: str
    def __init__(self, scanner: _Optional[str] = ..., inventory: _Optional[str] = ..., entry: _Optional[str] = ..., target: _Optional[str] = ...) -> None: ...

class Host(_message.Message):
    __slots__ = ("hostname", "fqdn", "machine_id", "dmi_product_uuid", "interfaces", "hardware", "asset_id_source", "identity_warnings")
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    FQDN_FIELD_NUMBER: _ClassVar[int]
    MACHINE_ID_FIELD_NUMBER: _ClassVar[int]
    DMI_PRODUCT_UUID_FIELD_NUMBER: _ClassVar[int]
    INTERFACES_FIELD_NUMBER: _ClassVar[int]
    HARDWARE_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_SOURCE_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_WARNINGS_FIELD_NUMBER: _ClassVar[int]
    hostname: str
    fqdn: str
    machine_id: str
    dmi_product_uuid: str
    interfaces: _containers.RepeatedCompositeFieldContainer[NetworkInterface]
    hardware: Hardware
    asset_id_source: str
    identity_warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, hostname: _Optional[str] = ..., fqdn: _Optional[str] = ..., machine_id: _Optional[str] = ..., dmi_product_uuid: _Optional[str] = ..., interfaces: _Optional[_Iterable[_Union[NetworkInterface, _Mapping]]] = ..., hardware: _Optional[_Union[Hardware, _Mapping]] = ..., asset_id_source: _Optional[str] = ..., identity_warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class NetworkInterface(_message.Message):
    __slots__ = ("name", "mac", "addresses")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MAC_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    name: str
    mac: str
    addresses: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., mac: _Optional[str] = ..., addresses: _Optional[_Iterable[str]] = ...) -> None: ...

class Hardware(_message.Message):
    __slots__ = ("cpu_model", "cpu_count", "memory_bytes", "disks", "vendor", "product", "serial", "virtualization", "container", "cloud", "found_by", "evidence")
    CPU_MODEL_FIELD_NUMBER: _ClassVar[int]
    CPU_COUNT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    DISKS_FIELD_NUMBER: _ClassVar[int]
    VENDOR_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    VIRTUALIZATION_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    CLOUD_FIELD_NUMBER: _ClassVar[int]
    FOUND_BY_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    cpu_model: str
    cpu_count: int
    memory_bytes: int
    disks: _containers.RepeatedCompositeFieldContainer[Disk]
    vendor: str
    product: str
    serial: str
    virtualization: str
    container: str
    cloud: str
    found_by: str
    evidence: str
    def __init__(self, cpu_model: _Optional[str] = ..., cpu_count: _Optional[int] = ..., memory_bytes: _Optional[int] = ..., disks: _Optional[_Iterable[_Union[Disk, _Mapping]]] = ..., vendor: _Optional[str] = ..., product: _Optional[str] = ..., serial: _Optional[str] = ..., virtualization: _Optional[str] = ..., container: _Optional[str] = ..., cloud: _Optional[str] = ..., found_by: _Optional[str] = ..., evidence: _Optional[str] = ...) -> None: ...

class Disk(_message.Message):
    __slots__ = ("device", "mountpoint", "fstype", "total_bytes")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    MOUNTPOINT_FIELD_NUMBER: _ClassVar[int]
    FSTYPE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    device: str
    mountpoint: str
    fstype: str
    total_bytes: int
    def __init__(self, device: _Optional[str] = ..., mountpoint: _Optional[str] = ..., fstype: _Optional[str] = ..., total_bytes: _Optional[int] = ...) -> None: ...

class OperatingSystem(_message.Message):
    __slots__ = ("family", "id", "name", "version", "version_id", "major", "codename", "pretty_name", "id_like", "kernel", "architecture", "edition", "build", "found_by", "evidence")
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    MAJOR_FIELD_NUMBER: _ClassVar[int]
    CODENAME_FIELD_NUMBER: _ClassVar[int]
    PRETTY_NAME_FIELD_NUMBER: _ClassVar[int]
    ID_LIKE_FIELD_NUMBER: _ClassVar[int]
    KERNEL_FIELD_NUMBER: _ClassVar[int]
    ARCHITECTURE_FIELD_NUMBER: _ClassVar[int]
    EDITION_FIELD_NUMBER: _ClassVar[int]
    BUILD_FIELD_NUMBER: _ClassVar[int]
    FOUND_BY_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    family: str
    id: str
    name: str
    version: str
    version_id: str
    major: str
    codename: str
    pretty_name: str
    id_like: _containers.RepeatedScalarFieldContainer[str]
    kernel: str
    architecture: str
    edition: str
    build: str
    found_by: str
    evidence: str
    def __init__(self, family: _Optional[str] = ..., id: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[str] = ..., version_id: _Optional[str] = ..., major: _Optional[str] = ..., codename: _Optional[str] = ..., pretty_name: _Optional[str] = ..., id_like: _Optional[_Iterable[str]] = ..., kernel: _Optional[str] = ..., architecture: _Optional[str] = ..., edition: _Optional[str] = ..., build: _Optional[str] = ..., found_by: _Optional[str] = ..., evidence: _Optional[str] = ...) -> None: ...

class Package(_message.Message):
    __slots__ = ("name", "version", "architecture", "manager", "source", "found_by", "evidence", "origin", "maintainer", "distribution", "component")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ARCHITECTURE_FIELD_NUMBER: _ClassVar[int]
    MANAGER_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FOUND_BY_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    MAINTAINER_FIELD_NUMBER: _ClassVar[int]
    DISTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    COMPONENT_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    architecture: str
    manager: str
    source: str
    found_by: str
    evidence: str
    origin: str
    maintainer: str
    distribution: str
    component: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., architecture: _Optional[str] = ..., manager: _Optional[str] = ..., source: _Optional[str] = ..., found_by: _Optional[str] = ..., evidence: _Optional[str] = ..., origin: _Optional[str] = ..., maintainer: _Optional[str] = ..., distribution: _Optional[str] = ..., component: _Optional[str] = ...) -> None: ...

class Software(_message.Message):
    __slots__ = ("name", "version", "vendor", "path", "found_by", "evidence")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VENDOR_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    FOUND_BY_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    vendor: str
    path: str
    found_by: str
    evidence: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., vendor: _Optional[str] = ..., path: _Optional[str] = ..., found_by: _Optional[str] = ..., evidence: _Optional[str] = ...) -> None: ...

class Listener(_message.Message):
    __slots__ = ("protocol", "address", "port", "pid", "process", "exposed", "found_by", "evidence")
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    EXPOSED_FIELD_NUMBER: _ClassVar[int]
    FOUND_BY_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    protocol: str
    address: str
    port: int
    pid: int
    process: str
    exposed: bool
    found_by: str
    evidence: str
    def __init__(self, protocol: _Optional[str] = ..., address: _Optional[str] = ..., port: _Optional[int] = ..., pid: _Optional[int] = ..., process: _Optional[str] = ..., exposed: _Optional[bool] = ..., found_by: _Optional[str] = ..., evidence: _Optional[str] = ...) -> None: ...

class Device(_message.Message):
    __slots__ = ("vendor", "model", "serial", "os", "version", "sys_descr", "sys_object_id", "sys_name", "sys_contact", "sys_location", "engine_id", "hardware_revision", "firmware_revision", "evidence", "found_by")
    class EvidenceEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VENDOR_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    OS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SYS_DESCR_FIELD_NUMBER: _ClassVar[int]
    SYS_OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SYS_NAME_FIELD_NUMBER: _ClassVar[int]
    SYS_CONTACT_FIELD_NUMBER: _ClassVar[int]
    SYS_LOCATION_FIELD_NUMBER: _ClassVar[int]
    ENGINE_ID_FIELD_NUMBER: _ClassVar[int]
    HARDWARE_REVISION_FIELD_NUMBER: _ClassVar[int]
    FIRMWARE_REVISION_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    FOUND_BY_FIELD_NUMBER: _ClassVar[int]
    vendor: str
    model: str
    serial: str
    os: str
    version: str
    sys_descr: str
    sys_object_id: str
    sys_name: str
    sys_contact: str
    sys_location: str
    engine_id: str
    hardware_revision: str
    firmware_revision: str
    evidence: _containers.ScalarMap[str, str]
    found_by: str
    def __init__(self, vendor: _Optional[str] = ..., model: _Optional[str] = ..., serial: _Optional[str] = ..., os: _Optional[str] = ..., version: _Optional[str] = ..., sys_descr: _Optional[str] = ..., sys_object_id: _Optional[str] = ..., sys_name: _Optional[str] = ..., sys_contact: _Optional[str] = ..., sys_location: _Optional[str] = ..., engine_id: _Optional[str] = ..., hardware_revision: _Optional[str] = ..., firmware_revision: _Optional[str] = ..., evidence: _Optional[_Mapping[str, str]] = ..., found_by: _Optional[str] = ...) -> None: ...

class DiscoveryError(_message.Message):
    __slots__ = ("discoverer", "message", "evidence")
    DISCOVERER_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    discoverer: str
    message: str
    evidence: str
    def __init__(self, discoverer: _Optional[str] = ..., message: _Optional[str] = ..., evidence: _Optional[str] = ...) -> None: ...
