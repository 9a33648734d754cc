from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QueryRequest(_message.Message):
    __slots__ = ("sql", "max_rows")
    SQL_FIELD_NUMBER: _ClassVar[int]
    MAX_ROWS_FIELD_NUMBER: _ClassVar[int]
    sql: str
    max_rows: int
    def __init__(self, sql: _Optional[str] = ..., max_rows: _Optional[int] = ...) -> None: ...

class QueryReply(_message.Message):
    __slots__ = ("arrow_schema", "arrow_batch", "snapshot_taken_at")
    ARROW_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    ARROW_BATCH_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_TAKEN_AT_FIELD_NUMBER: _ClassVar[int]
    arrow_schema: bytes
    arrow_batch: bytes
    snapshot_taken_at: str
    def __init__(self, arrow_schema: _Optional[bytes] = ..., arrow_batch: _Optional[bytes] = ..., snapshot_taken_at: _Optional[str] = ...) -> None: ...

class SnapshotRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SnapshotChunk(_message.Message):
    __slots__ = ("data", "info")
    DATA_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    info: SnapshotInfo
    def __init__(self, data: _Optional[bytes] = ..., info: _Optional[_Union[SnapshotInfo, _Mapping]] = ...) -> None: ...

class SnapshotInfo(_message.Message):
    __slots__ = ("taken_at", "size_bytes", "seconds", "reports")
    TAKEN_AT_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    taken_at: str
    size_bytes: int
    seconds: float
    reports: int
    def __init__(self, taken_at: _Optional[str] = ..., size_bytes: _Optional[int] = ..., seconds: _Optional[float] = ..., reports: _Optional[int] = ...) -> None: ...
