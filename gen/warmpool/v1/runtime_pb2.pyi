import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ClaimOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLAIM_OUTCOME_UNSPECIFIED: _ClassVar[ClaimOutcome]
    CLAIM_OUTCOME_RUNNING: _ClassVar[ClaimOutcome]
    CLAIM_OUTCOME_STARTING: _ClassVar[ClaimOutcome]
    CLAIM_OUTCOME_MISS: _ClassVar[ClaimOutcome]
CLAIM_OUTCOME_UNSPECIFIED: ClaimOutcome
CLAIM_OUTCOME_RUNNING: ClaimOutcome
CLAIM_OUTCOME_STARTING: ClaimOutcome
CLAIM_OUTCOME_MISS: ClaimOutcome

class ClaimInstanceRequest(_message.Message):
    __slots__ = ("warm_pool_id", "project_id", "environment_class_id", "claim_id")
    WARM_POOL_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    warm_pool_id: str
    project_id: str
    environment_class_id: str
    claim_id: str
    def __init__(self, warm_pool_id: _Optional[str] = ..., project_id: _Optional[str] = ..., environment_class_id: _Optional[str] = ..., claim_id: _Optional[str] = ...) -> None: ...

class ClaimInstanceResponse(_message.Message):
    __slots__ = ("outcome", "warm_pool_id", "instance")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    WARM_POOL_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    outcome: ClaimOutcome
    warm_pool_id: str
    instance: Instance
    def __init__(self, outcome: _Optional[_Union[ClaimOutcome, str]] = ..., warm_pool_id: _Optional[str] = ..., instance: _Optional[_Union[Instance, _Mapping]] = ...) -> None: ...

class Instance(_message.Message):
    __slots__ = ("id", "warm_pool_id", "snapshot_id", "current_snapshot", "claim_id", "claimed_at", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    WARM_POOL_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENT_SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    warm_pool_id: str
    snapshot_id: str
    current_snapshot: bool
    claim_id: str
    claimed_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., warm_pool_id: _Optional[str] = ..., snapshot_id: _Optional[str] = ..., current_snapshot: _Optional[bool] = ..., claim_id: _Optional[str] = ..., claimed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
