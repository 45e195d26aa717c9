"""Request and response bodies of the registry API as pydantic models: they check what comes
in and generate the OpenAPI document (services/registry/openapi.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
Status = Literal["starting", "active", "failed", "stopped"]
Algorithm = Literal["downsample", "mean", "minmax", "rms", "average"]
TimeUnit = Literal["s", "ms", "us", "ns"]
SchemaSource = dict[str, Any] | StrictStr
"""An inline Avro record schema, or the path of an .avsc file inside the installation's
config/ folder (``config/agents/example.avsc``)."""


class ChannelConfig(BaseModel):
    """Per-channel relay settings (others come from the ``relay`` settings)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    decimation: int | None = Field(None, ge=1, le=1_000_000, description="keep 1 record in N")
    algorithm: Algorithm | None = Field(None, description="decimation algorithm")
    rotate_seconds: int | None = Field(None, ge=1, description="new archive file after this")
    rotation: int | None = Field(None, ge=1, description="the original's name of rotate_seconds")
    rotate_bytes: int | None = Field(None, ge=1, description="... or once it reaches this size")
    flush_ms: int | None = Field(None, ge=1, le=60_000, description="write blocks this often")
    dec_max_bytes: int | None = Field(None, ge=0, le=65_000, description="decimated datagram")
    retention_ttl_s: int | None = Field(None, ge=0, description="janitor: keep files this long")
    retention_quota_bytes: int | None = Field(None, ge=0, description="janitor: archive quota")


class ChannelCreate(BaseModel):
    """``POST /channels``: a new channel."""

    model_config = ConfigDict(extra="forbid")

    name: StrictStr = Field(pattern=NAME_PATTERN, description="folder name and topic segment")
    port: StrictInt = Field(description="UDP port, inside the channel port range")
    schema_: SchemaSource = Field(alias="schema")
    config: ChannelConfig | None = None
    time_field: StrictStr | None = Field(
        None, max_length=255, description="a long field: the device clock"
    )
    time_unit: TimeUnit | None = Field(None, description="its unit when the schema says none")


class ChannelPatch(BaseModel):
    """``PATCH /channels/{name}``: the fields to change (``config`` keys merge; a null value
    removes a key). Name and port cannot change; giving their current values is allowed."""

    model_config = ConfigDict(extra="forbid")

    name: StrictStr | None = None
    port: StrictInt | None = None
    schema_: SchemaSource | None = Field(None, alias="schema")
    config: dict[str, Any] | None = None
    time_field: StrictStr | None = Field(None, max_length=255)
    time_unit: TimeUnit | None = None


class SchemaBody(BaseModel):
    """``POST /channels/{name}/validate-schema``."""

    model_config = ConfigDict(extra="forbid")

    schema_: SchemaSource = Field(alias="schema")


class Endpoints(BaseModel):
    full: str = Field(description="full-rate multicast group:port")
    decimated: str = Field(description="decimated multicast group:port")


class Channel(BaseModel):
    """A channel record."""

    name: str
    port: int
    schema_: dict[str, Any] = Field(alias="schema")
    schema_path: str | None = Field(description="the config/ path it was registered from")
    schema_version: int
    fingerprint: str = Field(description="CRC-64-AVRO of the schema, 16 hex digits")
    time_field: str | None
    time_unit: str
    config: dict[str, Any]
    multicast: Endpoints
    status: Status
    last_heartbeat: str | None = Field(description="ISO 8601 time of the relay's last status")
    last_error: str | None = Field(description="the relay's last error line, when failed")
    counters: dict[str, Any] = Field(description="the relay's latest counters")
    created_at: str
    updated_at: str


class ChannelList(BaseModel):
    channels: list[Channel]


class ChannelDone(BaseModel):
    """Answer to a registration or a change, as the original clients read it."""

    status: Literal["success"]
    name: str
    port: int
    message: str
    channel: Channel


class ChannelRemoved(BaseModel):
    status: Literal["success"]
    name: str
    port: int
    message: str


class SchemaVersion(BaseModel):
    version: int
    fingerprint: str
    schema_: dict[str, Any] = Field(alias="schema")
    created_at: str


class SchemaVersions(BaseModel):
    name: str
    versions: list[SchemaVersion]


class SchemaVerdict(BaseModel):
    valid: bool
    compatible: bool
    fingerprint: str
    same: bool = Field(description="the schema is the channel's current one")


class PortRange(BaseModel):
    start: int
    end: int


class PortsAvailable(BaseModel):
    range: PortRange
    available: list[int]
    count: int


class PortStatus(BaseModel):
    port: int
    available: bool
    status: Literal["free", "in_use"]
    channel: str | None = None


class Health(BaseModel):
    status: Literal["ok"]
    service: Literal["registry"]
    channels: int
    database: str


class Error(BaseModel):
    """Every error: a code, a sentence, and sometimes more (``used_by``, ``field``)."""

    model_config = ConfigDict(extra="allow")

    error: str
    detail: str
