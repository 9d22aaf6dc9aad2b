"""Server settings: defaults < TOML file < environment (``SCORE_*``) < command-line flags.

Built once by the composition root (``cli/server_main.py``) and passed down; no module reads
settings on its own.
"""

from __future__ import annotations

import contextvars
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Field, SecretStr, Tag, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from score.domain.errors import ConfigError

MIB = 1024 * 1024


def _seconds(v: Any) -> Any:
    """Accept plain seconds ("90", "1.5") as well as ISO-8601 durations ("PT15M")."""
    if isinstance(v, str):
        try:
            return timedelta(seconds=float(v))
        except ValueError:
            return v
    return v


_CONFIG_FILE: contextvars.ContextVar[Path | None] = contextvars.ContextVar("score_config_file", default=None)


class LocalStorageSettings(BaseModel):
    """The embedded local-disk store (env ``SCORE_STORAGE__*``)."""

    kind: Literal["local"] = "local"
    min_part_size_bytes: int = Field(20 * MIB, ge=1, description="SCORE_STORAGE__MIN_PART_SIZE_BYTES")
    max_parts: int = Field(10_000, ge=1, le=10_000, description="SCORE_STORAGE__MAX_PARTS")
    min_free_bytes: int = Field(
        256 * MIB,
        ge=0,
        description="SCORE_STORAGE__MIN_FREE_BYTES: below this much free space /health reports the store not ready",
    )


class MemoryStorageSettings(BaseModel):
    """The in-process store (``KIND=memory``): for tests, whose clients reach its URLs through its transport."""

    kind: Literal["memory"]
    min_part_size_bytes: int = Field(5 * MIB, ge=1, description="SCORE_STORAGE__MIN_PART_SIZE_BYTES")
    max_parts: int = Field(10_000, ge=1, le=10_000, description="SCORE_STORAGE__MAX_PARTS")
    create_buckets: bool = Field(False, description="ignored: the in-process store has no buckets")


class S3StorageSettings(BaseModel):
    """An S3-compatible store: AWS S3, Ceph radosgw, MinIO (env ``SCORE_STORAGE__*`` with ``KIND=s3``).

    Names follow Score's ``s3.*`` and ``bucket.*`` keys (see docs/storage.md).
    """

    kind: Literal["s3"]
    endpoint: str | None = Field(None, description="s3.endpoint; None = AWS for the region")
    region: str = Field("us-east-1", description="signing region")
    addressing: Literal["path", "virtual", "auto"] = Field(
        "path", description="path-style (Score's only mode) or virtual-host"
    )
    access_key: SecretStr | None = Field(None, description="s3.accessKey; unset = environment/profile/instance role")
    secret_key: SecretStr | None = Field(None, description="s3.secretKey")
    profile: str | None = Field(None, description="AWS shared-config profile when no static keys are set")
    object_bucket: str = Field("oicr.icgc", description="bucket.name.object")
    state_bucket: str | None = Field(None, description="bucket.name.state; None = the object bucket")
    pool_size: int = Field(0, ge=0, le=1000, description="bucket.size.pool (0 = no sharding)")
    pool_key_chars: int = Field(2, ge=1, le=8, description="bucket.size.key: hex digits of the id that pick the bucket")
    kms_key_id: str | None = Field(None, description="s3.masterEncryptionKeyId: SSE-KMS for new objects")
    presigned_host_override: str | None = Field(
        None, description="s3.preSignedUrl.override.host: replaces the endpoint in every signed URL"
    )
    md5_metadata_key: str = Field("md5chksum", description="s3.customMd5Property")
    create_buckets: bool = Field(False, description="create missing buckets at start-up (development)")
    connect_timeout: float = Field(15.0, gt=0)
    read_timeout: float = Field(60.0, gt=0)
    max_attempts: int = Field(5, ge=1, le=20, description="retries of the server's own S3 calls")
    max_connections: int = Field(50, ge=1, le=1000)
    min_part_size_bytes: int = Field(20 * MIB, ge=5 * MIB, description="S3 refuses non-last parts under 5 MiB")
    max_parts: int = Field(10_000, ge=1, le=10_000)

    @field_validator("endpoint", "state_bucket", "kms_key_id", "presigned_host_override", "profile", mode="before")
    @classmethod
    def _empty_is_none(cls, v: Any) -> Any:
        return None if v == "" else v

    @field_validator("object_bucket", "state_bucket")
    @classmethod
    def _bucket_name(cls, v: str | None) -> str | None:
        if v is not None and not (3 <= len(v) <= 63):
            raise ValueError("bucket names have 3 to 63 characters")
        return v

    @model_validator(mode="after")
    def _keys_together(self) -> S3StorageSettings:
        if (self.access_key is None) != (self.secret_key is None):
            raise ValueError("set both storage.access_key and storage.secret_key, or neither")
        return self


class AzureStorageSettings(BaseModel):
    """Azure Blob Storage (env ``SCORE_STORAGE__*`` with ``KIND=azure``); see docs/storage.md."""

    kind: Literal["azure"]
    account_name: str = Field(description="azure.accountName: the storage account")
    account_key: SecretStr | None = Field(
        None, description="azure.accountKey; unset = Azure AD (DefaultAzureCredential) with user-delegation SAS"
    )
    endpoint: str | None = Field(
        None,
        description="account URL; None = https://<account>.blob.core.windows.net (Azurite: http://host:port/<account>)",
    )
    container: str = Field("data", description="bucket.name.object: the one container (Score's default 'data')")
    api_version: str | None = Field(None, description="Blob service API version (Azurite 3.35 needs 2025-01-05)")
    md5_metadata_key: str = Field("md5chksum", description="metadata key holding the blob's MD5 (base64)")
    layout: Literal["data", "score-azure"] = Field(
        "data",
        description="blob names of new objects: 'data' = data/<id> (Score's S3 layout); 'score-azure' = <id> at the "
        "container's root, as Score's Azure profile writes them (Score 5.x can then read them); reads find both",
    )
    create_buckets: bool = Field(False, description="create the container at start-up (development)")
    connect_timeout: float = Field(15.0, gt=0)
    read_timeout: float = Field(60.0, gt=0)
    max_attempts: int = Field(5, ge=1, le=20, description="retries of the server's own Azure calls")
    min_part_size_bytes: int = Field(20 * MIB, ge=1, description="smallest block (Azure allows up to 4000 MiB)")
    max_parts: int = Field(10_000, ge=1, le=50_000, description="blocks per blob (Azure allows 50,000)")

    @field_validator("endpoint", "api_version", mode="before")
    @classmethod
    def _empty_is_none(cls, v: Any) -> Any:
        return None if v == "" else v

    @field_validator("container")
    @classmethod
    def _container_name(cls, v: str) -> str:
        if not (3 <= len(v) <= 63) or not v.replace("-", "").isalnum() or v != v.lower():
            raise ValueError("container names have 3 to 63 lowercase letters, digits and hyphens")
        return v


class GcsStorageSettings(BaseModel):
    """Google Cloud Storage (env ``SCORE_STORAGE__*`` with ``KIND=gcs``); see docs/storage.md."""

    kind: Literal["gcs"]
    bucket: str = Field("score-data", description="the bucket of objects and state")
    project: str | None = Field(None, description="project for bucket creation; None = the credentials' project")
    credentials_file: Path | None = Field(
        None,
        description="service-account JSON key: signs URLs locally; None = Application Default Credentials, "
        "URLs signed by the IAM signBlob API",
    )
    service_account_email: str | None = Field(
        None, description="the account whose IAM signBlob signs URLs when there is no key file"
    )
    endpoint: str = Field("https://storage.googleapis.com", description="API and signed-URL endpoint")
    emulator: bool = Field(False, description="a local emulator: API calls without OAuth (URLs are still signed)")
    md5_metadata_key: str = Field("md5chksum", description="metadata key holding the object's MD5 (base64)")
    create_buckets: bool = Field(False, description="create the bucket at start-up (development)")
    read_timeout: float = Field(60.0, gt=0)
    min_part_size_bytes: int = Field(20 * MIB, ge=1, description="smallest part object")
    max_parts: int = Field(10_000, ge=1, le=10_000)

    @field_validator("project", "service_account_email", "credentials_file", mode="before")
    @classmethod
    def _empty_is_none(cls, v: Any) -> Any:
        return None if v == "" else v

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, v: str) -> str:
        if not (3 <= len(v) <= 63):
            raise ValueError("bucket names have 3 to 63 characters")
        return v


def _storage_kind(value: Any) -> str:
    """``kind`` picks the backend; without one it is the embedded local store."""
    kind = value.get("kind", "local") if isinstance(value, dict) else getattr(value, "kind", "local")
    return str(kind).lower()


StorageSettings = Annotated[
    Annotated[LocalStorageSettings, Tag("local")]
    | Annotated[S3StorageSettings, Tag("s3")]
    | Annotated[AzureStorageSettings, Tag("azure")]
    | Annotated[GcsStorageSettings, Tag("gcs")]
    | Annotated[MemoryStorageSettings, Tag("memory")],
    Discriminator(_storage_kind),
]


class MetadataSettings(BaseModel):
    """Where object records come from (env ``SCORE_METADATA__*``).

    ``registry`` (the default without a ``url``): the embedded Song-compatible registry (SQLite
    in the data dir, served by this server); ``song`` (the default with a ``url``): a Song server;
    ``none``: objects need no registration (only the system scopes can then move them).
    """

    kind: Literal["none", "registry", "song"] | None = Field(
        None, description="SCORE_METADATA__KIND; default: song when url is set, else registry"
    )
    url: str | None = Field(None, description="SCORE_METADATA__URL: Song's base URL (kind = song)")
    timeout: float = Field(10.0, gt=0, description="SCORE_METADATA__TIMEOUT (seconds)")
    cache_ttl: timedelta = Field(timedelta(seconds=10), description="SCORE_METADATA__CACHE_TTL")

    _ttl = field_validator("cache_ttl", mode="before")(_seconds)

    @model_validator(mode="after")
    def _song_needs_url(self) -> MetadataSettings:
        if self.kind is None:
            self.kind = "song" if self.url else "registry"
        if self.kind == "song" and not self.url:
            raise ValueError("metadata.kind = song needs metadata.url (Song's base URL)")
        return self


class RegistrySettings(BaseModel):
    """Where the embedded registry keeps its analyses (env ``SCORE_REGISTRY__*``; used with metadata.kind = registry).

    Without a ``url``: one SQLite file in the data directory (one server, any number of its workers). With a
    PostgreSQL ``url``: one database that any number of replicas share (docs/deploy.md).
    """

    url: SecretStr | None = Field(
        None,
        description="SCORE_REGISTRY__URL: postgresql://user:password@host:port/db (empty: SQLite in the data dir)",
    )
    pool_size: int = Field(10, ge=1, le=500, description="SCORE_REGISTRY__POOL_SIZE: connections per server process")
    connect_timeout: float = Field(
        10.0, gt=0, le=600, description="SCORE_REGISTRY__CONNECT_TIMEOUT: seconds to wait for a database connection"
    )
    migrate_on_start: bool = Field(
        True,
        description="SCORE_REGISTRY__MIGRATE_ON_START: apply schema migrations at start (else `score-server migrate`)",
    )

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value():
            return None
        if not v.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("registry.url must be a postgresql:// URL (leave it empty for SQLite in the data dir)")
        return v


class AuthSettings(BaseModel):
    """Token verification (env ``SCORE_AUTH__*``).

    With neither ``jwks_url`` nor ``public_key_file`` the server uses its embedded issuer: a
    key in ``<data_dir>/secrets`` whose tokens ``score-server token`` prints.
    """

    oidc_issuer: str | None = Field(
        None, description="SCORE_AUTH__OIDC_ISSUER: keys found by OIDC discovery; tokens must carry this iss"
    )
    jwks_url: str | None = Field(None, description="SCORE_AUTH__JWKS_URL")
    jwks_cache_ttl: timedelta = Field(timedelta(minutes=5), description="SCORE_AUTH__JWKS_CACHE_TTL")
    jwks_refetch_cooldown: timedelta = Field(
        timedelta(seconds=30),
        description="SCORE_AUTH__JWKS_REFETCH_COOLDOWN: least time between fetches for an unknown kid",
    )
    public_key_file: Path | None = Field(None, description="SCORE_AUTH__PUBLIC_KEY_FILE (PEM)")
    issuer: str | None = Field("score-server", description="SCORE_AUTH__ISSUER; empty = not checked")
    audience: str | None = Field("score", description="SCORE_AUTH__AUDIENCE; empty = not checked")
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"], description="SCORE_AUTH__ALGORITHMS")
    leeway: timedelta = Field(timedelta(seconds=30), description="SCORE_AUTH__LEEWAY (seconds or ISO-8601)")
    introspection_url: str | None = Field(
        None, description="SCORE_AUTH__INTROSPECTION_URL: RFC 7662 endpoint (or Ego's check_token) for API keys"
    )
    introspection_client_id: str | None = Field(None, description="SCORE_AUTH__INTROSPECTION_CLIENT_ID")
    introspection_client_secret: SecretStr | None = Field(None, description="SCORE_AUTH__INTROSPECTION_CLIENT_SECRET")
    introspection_token_field: str = Field("token", description="SCORE_AUTH__INTROSPECTION_TOKEN_FIELD")
    introspection_cache_ttl: timedelta = Field(
        timedelta(seconds=30), description="SCORE_AUTH__INTROSPECTION_CACHE_TTL: a revoked key works at most this long"
    )
    read_scope: str = Field("score.READ", description="SCORE_AUTH__READ_SCOPE")
    write_scope: str = Field("score.WRITE", description="SCORE_AUTH__WRITE_SCOPE")
    study_prefix: str = Field(
        "PROGRAMDATA-", description="SCORE_AUTH__STUDY_PREFIX (Score: auth.server.scope.*.study.prefix)"
    )
    study_read_suffix: str = Field(".READ", description="SCORE_AUTH__STUDY_READ_SUFFIX")
    study_write_suffix: str = Field(".WRITE", description="SCORE_AUTH__STUDY_WRITE_SUFFIX")

    _leeway_seconds = field_validator(
        "leeway", "jwks_cache_ttl", "jwks_refetch_cooldown", "introspection_cache_ttl", mode="before"
    )(_seconds)

    @field_validator("issuer", "audience", "jwks_url", "oidc_issuer", "introspection_url", mode="before")
    @classmethod
    def _empty_is_none(cls, v: Any) -> Any:
        return None if v == "" else v

    @model_validator(mode="after")
    def _one_key_source(self) -> AuthSettings:
        if sum(1 for v in (self.jwks_url, self.public_key_file, self.oidc_issuer) if v) > 1:
            raise ValueError("set at most one of auth.oidc_issuer, auth.jwks_url and auth.public_key_file")
        return self

    @property
    def embedded(self) -> bool:
        """True when the server issues and verifies its own tokens."""
        return not self.jwks_url and not self.public_key_file and not self.oidc_issuer


class ServerSettings(BaseSettings):
    """Everything score-server can be told; see docs/configuration.md."""

    model_config = SettingsConfigDict(env_prefix="SCORE_", env_nested_delimiter="__", extra="forbid")

    host: str = Field("127.0.0.1", description="SCORE_HOST")
    port: int = Field(5431, ge=0, le=65535, description="SCORE_PORT")
    workers: int = Field(
        1, ge=1, le=64, description="SCORE_WORKERS: server processes sharing the port (serve --workers)"
    )
    data_dir: Path = Field(Path("score-data"), description="SCORE_DATA_DIR")
    public_url: str | None = Field(None, description="SCORE_PUBLIC_URL: base of the URLs the local store signs")
    log_level: str = Field("INFO", description="SCORE_LOG_LEVEL")
    tls_cert: Path | None = Field(None, description="SCORE_TLS_CERT: PEM certificate (chain) to serve HTTPS with")
    tls_key: Path | None = Field(None, description="SCORE_TLS_KEY: its PEM private key")
    upload_url_ttl: timedelta = Field(timedelta(minutes=15), description="SCORE_UPLOAD_URL_TTL")
    download_url_ttl: timedelta = Field(timedelta(minutes=15), description="SCORE_DOWNLOAD_URL_TTL")
    audit_log: Path | None = Field(None, description="SCORE_AUDIT_LOG: JSON-lines audit file (default: with the logs)")
    trusted_proxies: list[str] = Field(
        default_factory=list, description="SCORE_TRUSTED_PROXIES: JSON list of CIDRs whose X-Forwarded-For is believed"
    )
    max_header_bytes: int = Field(
        64 * 1024,
        ge=8 * 1024,
        le=1024 * 1024,
        description="SCORE_MAX_HEADER_BYTES: largest request head (request line + headers); larger is 431",
    )
    storage: StorageSettings = Field(default_factory=LocalStorageSettings)
    upload_retention: timedelta = Field(
        timedelta(days=6), description="SCORE_UPLOAD_RETENTION: `cleanup` aborts uploads older than this"
    )
    auth: AuthSettings = Field(default_factory=AuthSettings)
    metadata: MetadataSettings = Field(default_factory=MetadataSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)

    _ttl_seconds = field_validator("upload_url_ttl", "download_url_ttl", "upload_retention", mode="before")(_seconds)

    @field_validator("upload_url_ttl", "download_url_ttl")
    @classmethod
    def _ttl_bounds(cls, v: timedelta) -> timedelta:
        if not timedelta(seconds=1) <= v <= timedelta(days=7):
            raise ValueError("URL lifetimes must be between 1 second and 7 days")
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        import ipaddress

        for item in v:
            ipaddress.ip_network(item.strip(), strict=False)  # ValueError -> a clear config error
        return v

    @model_validator(mode="after")
    def _tls_pair(self) -> ServerSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("give both tls_cert and tls_key (SCORE_TLS_CERT, SCORE_TLS_KEY), or neither")
        for path in (self.tls_cert, self.tls_key):
            if path is not None and not path.is_file():
                raise ValueError(f"{path} is not a file")
        return self

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        if v.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("log_level must be DEBUG, INFO, WARNING or ERROR")
        return v.upper()

    @property
    def base_url(self) -> str:
        """The URL the local store's signed URLs start with."""
        scheme = "https" if self.tls_cert else "http"
        return (self.public_url or f"{scheme}://{self.host}:{self.port}").rstrip("/")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003  pydantic-settings' hook signature
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003  pydantic-settings' hook signature
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags (init) > environment > TOML file > defaults."""
        return (init_settings, env_settings, _TomlSource(settings_cls))


class _TomlSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = _CONFIG_FILE.get()
        if path is None:
            return {}
        try:
            with open(path, "rb") as fh:
                return tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def load_server_settings(config_file: Path | None = None, **overrides: Any) -> ServerSettings:
    """Build settings once: *overrides* (flags, None = not given) win over env and the file.

    Raises:
        ConfigError: the file is missing or malformed, or a value is invalid.
    """
    from pydantic import ValidationError

    token = _CONFIG_FILE.set(config_file)
    try:
        return ServerSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid configuration: {problems}") from None
    finally:
        _CONFIG_FILE.reset(token)
