import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SummaryRequest(_message.Message):
    __slots__ = ("as_of",)
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    as_of: str
    def __init__(self, as_of: _Optional[str] = ...) -> None: ...

class SummaryReply(_message.Message):
    __slots__ = ("generated_at", "as_of", "threshold", "tables", "stale_days")
    GENERATED_AT_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    STALE_DAYS_FIELD_NUMBER: _ClassVar[int]
    generated_at: _timestamp_pb2.Timestamp
    as_of: str
    threshold: int
    tables: _containers.RepeatedCompositeFieldContainer[AggregateTable]
    stale_days: int
    def __init__(self, generated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., as_of: _Optional[str] = ..., threshold: _Optional[int] = ..., tables: _Optional[_Iterable[_Union[AggregateTable, _Mapping]]] = ..., stale_days: _Optional[int] = ...) -> None: ...

class AggregateTable(_message.Message):
    __slots__ = ("name", "unit", "row_dimensions", "columns", "rows", "totals")
    NAME_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    ROW_DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    name: str
    unit: str
    row_dimensions: _containers.RepeatedScalarFieldContainer[str]
    columns: _containers.RepeatedScalarFieldContainer[str]
    rows: _containers.RepeatedCompositeFieldContainer[AggregateRow]
    totals: AggregateRow
    def __init__(self, name: _Optional[str] = ..., unit: _Optional[str] = ..., row_dimensions: _Optional[_Iterable[str]] = ..., columns: _Optional[_Iterable[str]] = ..., rows: _Optional[_Iterable[_Union[AggregateRow, _Mapping]]] = ..., totals: _Optional[_Union[AggregateRow, _Mapping]] = ...) -> None: ...

class AggregateRow(_message.Message):
    __slots__ = ("key", "cells", "total")
    KEY_FIELD_NUMBER: _ClassVar[int]
    CELLS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    key: _containers.RepeatedScalarFieldContainer[str]
    cells: _containers.RepeatedCompositeFieldContainer[AggregateCount]
    total: AggregateCount
    def __init__(self, key: _Optional[_Iterable[str]] = ..., cells: _Optional[_Iterable[_Union[AggregateCount, _Mapping]]] = ..., total: _Optional[_Union[AggregateCount, _Mapping]] = ...) -> None: ...

class AggregateCount(_message.Message):
    __slots__ = ("value", "withheld")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    WITHHELD_FIELD_NUMBER: _ClassVar[int]
    value: int
    withheld: bool
    def __init__(self, value: _Optional[int] = ..., withheld: _Optional[bool] = ...) -> None: ...
