import datetime

from gitpod.v1 import identity_pb2 as _identity_pb2
from gitpod.v1 import pagination_pb2 as _pagination_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PrebuildPhase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PREBUILD_PHASE_UNSPECIFIED: _ClassVar[PrebuildPhase]
    PREBUILD_PHASE_PENDING: _ClassVar[PrebuildPhase]
    PREBUILD_PHASE_STARTING: _ClassVar[PrebuildPhase]
    PREBUILD_PHASE_RUNNING: _ClassVar[PrebuildPhase]
    PREBUILD_PHASE_STOPPING: _ClassVar[PrebuildPhase]
    PREBUILD_PHASE_SNAPSHOTTING: _ClassVar[PrebuildPhase]
    PREBUILD_PHASE_COMPLETED: _ClassVar[PrebuildPhase]
    PREBUILD_PHASE_FAILED: _ClassVar[PrebuildPhase]
    PREBUILD_PHASE_CANCELLING: _ClassVar[PrebuildPhase]
    PREBUILD_PHASE_CANCELLED: _ClassVar[PrebuildPhase]
    PREBUILD_PHASE_DELETING: _ClassVar[PrebuildPhase]
    PREBUILD_PHASE_DELETED: _ClassVar[PrebuildPhase]

class WarmPoolPhase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WARM_POOL_PHASE_UNSPECIFIED: _ClassVar[WarmPoolPhase]
    WARM_POOL_PHASE_PENDING: _ClassVar[WarmPoolPhase]
    WARM_POOL_PHASE_READY: _ClassVar[WarmPoolPhase]
    WARM_POOL_PHASE_DEGRADED: _ClassVar[WarmPoolPhase]
    WARM_POOL_PHASE_DELETING: _ClassVar[WarmPoolPhase]
    WARM_POOL_PHASE_DELETED: _ClassVar[WarmPoolPhase]
PREBUILD_PHASE_UNSPECIFIED: PrebuildPhase
PREBUILD_PHASE_PENDING: PrebuildPhase
PREBUILD_PHASE_STARTING: PrebuildPhase
PREBUILD_PHASE_RUNNING: PrebuildPhase
PREBUILD_PHASE_STOPPING: PrebuildPhase
PREBUILD_PHASE_SNAPSHOTTING: PrebuildPhase
PREBUILD_PHASE_COMPLETED: PrebuildPhase
PREBUILD_PHASE_FAILED: PrebuildPhase
PREBUILD_PHASE_CANCELLING: PrebuildPhase
PREBUILD_PHASE_CANCELLED: PrebuildPhase
PREBUILD_PHASE_DELETING: PrebuildPhase
PREBUILD_PHASE_DELETED: PrebuildPhase
WARM_POOL_PHASE_UNSPECIFIED: WarmPoolPhase
WARM_POOL_PHASE_PENDING: WarmPoolPhase
WARM_POOL_PHASE_READY: WarmPoolPhase
WARM_POOL_PHASE_DEGRADED: WarmPoolPhase
WARM_POOL_PHASE_DELETING: WarmPoolPhase
WARM_POOL_PHASE_DELETED: WarmPoolPhase

class CreatePrebuildRequest(_message.Message):
    __slots__ = ("project_id", "environment_class_id", "spec")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    environment_class_id: str
    spec: PrebuildSpec
    def __init__(self, project_id: _Optional[str] = ..., environment_class_id: _Optional[str] = ..., spec: _Optional[_Union[PrebuildSpec, _Mapping]] = ...) -> None: ...

class CreatePrebuildResponse(_message.Message):
    __slots__ = ("prebuild",)
    PREBUILD_FIELD_NUMBER: _ClassVar[int]
    prebuild: Prebuild
    def __init__(self, prebuild: _Optional[_Union[Prebuild, _Mapping]] = ...) -> None: ...

class ListPrebuildsRequest(_message.Message):
    __slots__ = ("pagination", "filter")
    class Filter(_message.Message):
        __slots__ = ("project_ids", "phases", "triggered_by", "creator_ids", "executor_ids")
        PROJECT_IDS_FIELD_NUMBER: _ClassVar[int]
        PHASES_FIELD_NUMBER: _ClassVar[int]
        TRIGGERED_BY_FIELD_NUMBER: _ClassVar[int]
        CREATOR_IDS_FIELD_NUMBER: _ClassVar[int]
        EXECUTOR_IDS_FIELD_NUMBER: _ClassVar[int]
        project_ids: _containers.RepeatedScalarFieldContainer[str]
        phases: _containers.RepeatedScalarFieldContainer[PrebuildPhase]
        triggered_by: _containers.RepeatedScalarFieldContainer[PrebuildMetadata.PrebuildTrigger]
        creator_ids: _containers.RepeatedScalarFieldContainer[str]
        executor_ids: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, project_ids: _Optional[_Iterable[str]] = ..., phases: _Optional[_Iterable[_Union[PrebuildPhase, str]]] = ..., triggered_by: _Optional[_Iterable[_Union[PrebuildMetadata.PrebuildTrigger, str]]] = ..., creator_ids: _Optional[_Iterable[str]] = ..., executor_ids: _Optional[_Iterable[str]] = ...) -> None: ...
    PAGINATION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    pagination: _pagination_pb2.PaginationRequest
    filter: ListPrebuildsRequest.Filter
    def __init__(self, pagination: _Optional[_Union[_pagination_pb2.PaginationRequest, _Mapping]] = ..., filter: _Optional[_Union[ListPrebuildsRequest.Filter, _Mapping]] = ...) -> None: ...

class ListPrebuildsResponse(_message.Message):
    __slots__ = ("pagination", "prebuilds")
    PAGINATION_FIELD_NUMBER: _ClassVar[int]
    PREBUILDS_FIELD_NUMBER: _ClassVar[int]
    pagination: _pagination_pb2.PaginationResponse
    prebuilds: _containers.RepeatedCompositeFieldContainer[Prebuild]
    def __init__(self, pagination: _Optional[_Union[_pagination_pb2.PaginationResponse, _Mapping]] = ..., prebuilds: _Optional[_Iterable[_Union[Prebuild, _Mapping]]] = ...) -> None: ...

class GetPrebuildRequest(_message.Message):
    __slots__ = ("prebuild_id",)
    PREBUILD_ID_FIELD_NUMBER: _ClassVar[int]
    prebuild_id: str
    def __init__(self, prebuild_id: _Optional[str] = ...) -> None: ...

class GetPrebuildResponse(_message.Message):
    __slots__ = ("prebuild",)
    PREBUILD_FIELD_NUMBER: _ClassVar[int]
    prebuild: Prebuild
    def __init__(self, prebuild: _Optional[_Union[Prebuild, _Mapping]] = ...) -> None: ...

class CancelPrebuildRequest(_message.Message):
    __slots__ = ("prebuild_id",)
    PREBUILD_ID_FIELD_NUMBER: _ClassVar[int]
    prebuild_id: str
    def __init__(self, prebuild_id: _Optional[str] = ...) -> None: ...

class CancelPrebuildResponse(_message.Message):
    __slots__ = ("prebuild",)
    PREBUILD_FIELD_NUMBER: _ClassVar[int]
    prebuild: Prebuild
    def __init__(self, prebuild: _Optional[_Union[Prebuild, _Mapping]] = ...) -> None: ...

class DeletePrebuildRequest(_message.Message):
    __slots__ = ("prebuild_id",)
    PREBUILD_ID_FIELD_NUMBER: _ClassVar[int]
    prebuild_id: str
    def __init__(self, prebuild_id: _Optional[str] = ...) -> None: ...

class DeletePrebuildResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreatePrebuildLogsTokenRequest(_message.Message):
    __slots__ = ("prebuild_id",)
    PREBUILD_ID_FIELD_NUMBER: _ClassVar[int]
    prebuild_id: str
    def __init__(self, prebuild_id: _Optional[str] = ...) -> None: ...

class CreatePrebuildLogsTokenResponse(_message.Message):
    __slots__ = ("access_token",)
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    def __init__(self, access_token: _Optional[str] = ...) -> None: ...

class Prebuild(_message.Message):
    __slots__ = ("id", "metadata", "spec", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: str
    metadata: PrebuildMetadata
    spec: PrebuildSpec
    status: PrebuildStatus
    def __init__(self, id: _Optional[str] = ..., metadata: _Optional[_Union[PrebuildMetadata, _Mapping]] = ..., spec: _Optional[_Union[PrebuildSpec, _Mapping]] = ..., status: _Optional[_Union[PrebuildStatus, _Mapping]] = ...) -> None: ...

class PrebuildMetadata(_message.Message):
    __slots__ = ("organization_id", "project_id", "environment_class_id", "creator", "created_at", "updated_at", "triggered_by", "executor")
    class PrebuildTrigger(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        PREBUILD_TRIGGER_UNSPECIFIED: _ClassVar[PrebuildMetadata.PrebuildTrigger]
        PREBUILD_TRIGGER_MANUAL: _ClassVar[PrebuildMetadata.PrebuildTrigger]
        PREBUILD_TRIGGER_SCHEDULED: _ClassVar[PrebuildMetadata.PrebuildTrigger]
    PREBUILD_TRIGGER_UNSPECIFIED: PrebuildMetadata.PrebuildTrigger
    PREBUILD_TRIGGER_MANUAL: PrebuildMetadata.PrebuildTrigger
    PREBUILD_TRIGGER_SCHEDULED: PrebuildMetadata.PrebuildTrigger
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    TRIGGERED_BY_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    project_id: str
    environment_class_id: str
    creator: _identity_pb2.Subject
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    triggered_by: PrebuildMetadata.PrebuildTrigger
    executor: _identity_pb2.Subject
    def __init__(self, organization_id: _Optional[str] = ..., project_id: _Optional[str] = ..., environment_class_id: _Optional[str] = ..., creator: _Optional[_Union[_identity_pb2.Subject, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., triggered_by: _Optional[_Union[PrebuildMetadata.PrebuildTrigger, str]] = ..., executor: _Optional[_Union[_identity_pb2.Subject, _Mapping]] = ...) -> None: ...

class PrebuildSpec(_message.Message):
    __slots__ = ("spec_version", "desired_phase", "timeout")
    SPEC_VERSION_FIELD_NUMBER: _ClassVar[int]
    DESIRED_PHASE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    spec_version: int
    desired_phase: PrebuildPhase
    timeout: _duration_pb2.Duration
    def __init__(self, spec_version: _Optional[int] = ..., desired_phase: _Optional[_Union[PrebuildPhase, str]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class PrebuildStatus(_message.Message):
    __slots__ = ("phase", "completion_time", "failure_message", "log_url", "environment_id", "status_version", "warning_message", "snapshot_completion_percentage", "snapshot_size_bytes")
    PHASE_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TIME_FIELD_NUMBER: _ClassVar[int]
    FAILURE_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LOG_URL_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_VERSION_FIELD_NUMBER: _ClassVar[int]
    WARNING_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_COMPLETION_PERCENTAGE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    phase: PrebuildPhase
    completion_time: _timestamp_pb2.Timestamp
    failure_message: str
    log_url: str
    environment_id: str
    status_version: int
    warning_message: str
    snapshot_completion_percentage: int
    snapshot_size_bytes: int
    def __init__(self, phase: _Optional[_Union[PrebuildPhase, str]] = ..., completion_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failure_message: _Optional[str] = ..., log_url: _Optional[str] = ..., environment_id: _Optional[str] = ..., status_version: _Optional[int] = ..., warning_message: _Optional[str] = ..., snapshot_completion_percentage: _Optional[int] = ..., snapshot_size_bytes: _Optional[int] = ...) -> None: ...

class CreateWarmPoolRequest(_message.Message):
    __slots__ = ("project_id", "environment_class_id", "desired_size", "min_size", "max_size")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    DESIRED_SIZE_FIELD_NUMBER: _ClassVar[int]
    MIN_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_SIZE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    environment_class_id: str
    desired_size: int
    min_size: int
    max_size: int
    def __init__(self, project_id: _Optional[str] = ..., environment_class_id: _Optional[str] = ..., desired_size: _Optional[int] = ..., min_size: _Optional[int] = ..., max_size: _Optional[int] = ...) -> None: ...

class CreateWarmPoolResponse(_message.Message):
    __slots__ = ("warm_pool",)
    WARM_POOL_FIELD_NUMBER: _ClassVar[int]
    warm_pool: WarmPool
    def __init__(self, warm_pool: _Optional[_Union[WarmPool, _Mapping]] = ...) -> None: ...

class GetWarmPoolRequest(_message.Message):
    __slots__ = ("warm_pool_id",)
    WARM_POOL_ID_FIELD_NUMBER: _ClassVar[int]
    warm_pool_id: str
    def __init__(self, warm_pool_id: _Optional[str] = ...) -> None: ...

class GetWarmPoolResponse(_message.Message):
    __slots__ = ("warm_pool",)
    WARM_POOL_FIELD_NUMBER: _ClassVar[int]
    warm_pool: WarmPool
    def __init__(self, warm_pool: _Optional[_Union[WarmPool, _Mapping]] = ...) -> None: ...

class ListWarmPoolsRequest(_message.Message):
    __slots__ = ("pagination", "filter")
    class Filter(_message.Message):
        __slots__ = ("project_ids", "environment_class_ids")
        PROJECT_IDS_FIELD_NUMBER: _ClassVar[int]
        ENVIRONMENT_CLASS_IDS_FIELD_NUMBER: _ClassVar[int]
        project_ids: _containers.RepeatedScalarFieldContainer[str]
        environment_class_ids: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, project_ids: _Optional[_Iterable[str]] = ..., environment_class_ids: _Optional[_Iterable[str]] = ...) -> None: ...
    PAGINATION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    pagination: _pagination_pb2.PaginationRequest
    filter: ListWarmPoolsRequest.Filter
    def __init__(self, pagination: _Optional[_Union[_pagination_pb2.PaginationRequest, _Mapping]] = ..., filter: _Optional[_Union[ListWarmPoolsRequest.Filter, _Mapping]] = ...) -> None: ...

class ListWarmPoolsResponse(_message.Message):
    __slots__ = ("pagination", "warm_pools")
    PAGINATION_FIELD_NUMBER: _ClassVar[int]
    WARM_POOLS_FIELD_NUMBER: _ClassVar[int]
    pagination: _pagination_pb2.PaginationResponse
    warm_pools: _containers.RepeatedCompositeFieldContainer[WarmPool]
    def __init__(self, pagination: _Optional[_Union[_pagination_pb2.PaginationResponse, _Mapping]] = ..., warm_pools: _Optional[_Iterable[_Union[WarmPool, _Mapping]]] = ...) -> None: ...

class UpdateWarmPoolRequest(_message.Message):
    __slots__ = ("warm_pool_id", "desired_size", "min_size", "max_size")
    WARM_POOL_ID_FIELD_NUMBER: _ClassVar[int]
    DESIRED_SIZE_FIELD_NUMBER: _ClassVar[int]
    MIN_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_SIZE_FIELD_NUMBER: _ClassVar[int]
    warm_pool_id: str
    desired_size: int
    min_size: int
    max_size: int
    def __init__(self, warm_pool_id: _Optional[str] = ..., desired_size: _Optional[int] = ..., min_size: _Optional[int] = ..., max_size: _Optional[int] = ...) -> None: ...

class UpdateWarmPoolResponse(_message.Message):
    __slots__ = ("warm_pool",)
    WARM_POOL_FIELD_NUMBER: _ClassVar[int]
    warm_pool: WarmPool
    def __init__(self, warm_pool: _Optional[_Union[WarmPool, _Mapping]] = ...) -> None: ...

class DeleteWarmPoolRequest(_message.Message):
    __slots__ = ("warm_pool_id",)
    WARM_POOL_ID_FIELD_NUMBER: _ClassVar[int]
    warm_pool_id: str
    def __init__(self, warm_pool_id: _Optional[str] = ...) -> None: ...

class DeleteWarmPoolResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WarmPool(_message.Message):
    __slots__ = ("id", "metadata", "spec", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: str
    metadata: WarmPoolMetadata
    spec: WarmPoolSpec
    status: WarmPoolStatus
    def __init__(self, id: _Optional[str] = ..., metadata: _Optional[_Union[WarmPoolMetadata, _Mapping]] = ..., spec: _Optional[_Union[WarmPoolSpec, _Mapping]] = ..., status: _Optional[_Union[WarmPoolStatus, _Mapping]] = ...) -> None: ...

class WarmPoolMetadata(_message.Message):
    __slots__ = ("organization_id", "project_id", "environment_class_id", "runner_id", "created_at", "updated_at")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    RUNNER_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    project_id: str
    environment_class_id: str
    runner_id: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, organization_id: _Optional[str] = ..., project_id: _Optional[str] = ..., environment_class_id: _Optional[str] = ..., runner_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WarmPoolSpec(_message.Message):
    __slots__ = ("spec_version", "desired_size", "snapshot_id", "desired_phase", "min_size", "max_size")
    SPEC_VERSION_FIELD_NUMBER: _ClassVar[int]
    DESIRED_SIZE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    DESIRED_PHASE_FIELD_NUMBER: _ClassVar[int]
    MIN_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_SIZE_FIELD_NUMBER: _ClassVar[int]
    spec_version: int
    desired_size: int
    snapshot_id: str
    desired_phase: WarmPoolPhase
    min_size: int
    max_size: int
    def __init__(self, spec_version: _Optional[int] = ..., desired_size: _Optional[int] = ..., snapshot_id: _Optional[str] = ..., desired_phase: _Optional[_Union[WarmPoolPhase, str]] = ..., min_size: _Optional[int] = ..., max_size: _Optional[int] = ...) -> None: ...

class WarmPoolStatus(_message.Message):
    __slots__ = ("phase", "failure_message", "status_version", "running_instances", "stopped_instances", "desired_size")
    PHASE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_VERSION_FIELD_NUMBER: _ClassVar[int]
    RUNNING_INSTANCES_FIELD_NUMBER: _ClassVar[int]
    STOPPED_INSTANCES_FIELD_NUMBER: _ClassVar[int]
    DESIRED_SIZE_FIELD_NUMBER: _ClassVar[int]
    phase: WarmPoolPhase
    failure_message: str
    status_version: int
    running_instances: int
    stopped_instances: int
    desired_size: int
    def __init__(self, phase: _Optional[_Union[WarmPoolPhase, str]] = ..., failure_message: _Optional[str] = ..., status_version: _Optional[int] = ..., running_instances: _Optional[int] = ..., stopped_instances: _Optional[int] = ..., desired_size: _Optional[int] = ...) -> None: ...
