"""Client settings: defaults < TOML file < environment < flags. Built once by client_main."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from score.domain.errors import ConfigError

DEFAULT_SERVER_URL = "http://127.0.0.1:5431"
DEFAULT_PARALLEL = 4
DEFAULT_MEMORY_BYTES = 100 * 1024 * 1024

# Score's environment names first, then ours.
ENV_SERVER_URL = ("STORAGE_URL", "SCORE_SERVER_URL")
ENV_TOKEN = ("ACCESSTOKEN", "SCORE_ACCESS_TOKEN")
ENV_PARALLEL = ("TRANSPORT_PARALLEL", "SCORE_PARALLEL")
ENV_METADATA_URL = ("METADATA_URL", "SCORE_METADATA_URL")
ENV_MEMORY = ("TRANSPORT_MEMORY", "SCORE_MEMORY")  # MiB, as Score's transport.memory (GB in Score)
ENV_PROFILE = ("SCORE_PROFILE",)
ENV_ISSUER = ("SCORE_OIDC_ISSUER",)
ENV_TOKEN_URL = ("SCORE_TOKEN_URL",)
ENV_CLIENT_ID = ("SCORE_CLIENT_ID",)
ENV_CLIENT_SECRET = ("SCORE_CLIENT_SECRET",)
ENV_SCOPE = ("SCORE_OIDC_SCOPE",)
ENV_CA_BUNDLE = ("SCORE_CA_BUNDLE", "REQUESTS_CA_BUNDLE")


@dataclass(frozen=True)
class ClientSettings:
    """Effective client settings. ``repr`` never shows the token."""

    server_url: str
    token: str | None
    parallel: int
    memory_bytes: int
    timeout_seconds: float = 60.0
    metadata_url: str = ""  # Song, or score-server's embedded registry (the default)
    profile: str | None = None
    config_path: Path | None = None
    oidc_issuer: str | None = None  # for login and token renewal
    token_url: str | None = None  # instead of the issuer's discovery document
    client_id: str | None = None
    client_secret: str | None = None  # client credentials (pipelines)
    scope: str | None = None
    ca_bundle: Path | None = None  # PEM file of the CAs to trust (server, store, identity provider)
    token_file: Path | None = None  # the tokens of score-client login for this profile

    def __repr__(self) -> str:
        """Redacted representation (no token, no client secret)."""
        token = "<set>" if self.token else "<none>"
        return (
            f"ClientSettings(server_url={self.server_url!r}, metadata_url={self.metadata_url!r}, token={token}, "
            f"parallel={self.parallel})"
        )


def default_config_path() -> Path:
    """``$XDG_CONFIG_HOME/score/client.toml`` (``~/.config/score/client.toml``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "score" / "client.toml"


def _env(names: tuple[str, ...]) -> str | None:
    for n in names:
        if os.environ.get(n):
            return os.environ[n]
    return None


def _read_file(path: Path, explicit: bool) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"config file {path} does not exist") from None
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def load_client_settings(
    *,
    config: Path | None,
    server_url: str | None,
    parallel: int | None,
    memory_mib: int | None,
    metadata_url: str | None = None,
    profile: str | None = None,
    ca_bundle: Path | None = None,
) -> ClientSettings:
    """Resolve the settings from flags (None = not given), environment and the config file.

    Raises:
        ConfigError: unreadable config file or invalid values.
    """
    env_config = os.environ.get("SCORE_CLIENT_CONFIG")
    path = config or (Path(env_config) if env_config else default_config_path())
    file = _read_file(path, explicit=config is not None or env_config is not None)
    name = profile or _env(ENV_PROFILE)
    if (name and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name)) or name in (".", ".."):
        raise ConfigError(f"profile name {name!r}: use letters, digits, '.', '_' or '-'")
    profiles = file.get("profiles", {})
    if name:
        if not isinstance(profiles, dict) or not isinstance(profiles.get(name), dict):
            known = ", ".join(sorted(profiles)) if isinstance(profiles, dict) else ""
            raise ConfigError(f"no profile {name!r} in {path}" + (f" (known: {known})" if known else ""))
        file = {**{k: v for k, v in file.items() if k != "profiles"}, **profiles[name]}
    token = _env(ENV_TOKEN) or file.get("access_token")
    url = server_url or _env(ENV_SERVER_URL) or file.get("server_url") or DEFAULT_SERVER_URL
    try:
        par = int(parallel or _env(ENV_PARALLEL) or file.get("parallel") or DEFAULT_PARALLEL)
        mem_mib = memory_mib or _env(ENV_MEMORY) or file.get("memory_mib", 0)
        mem = int(mem_mib) * 1024 * 1024
    except ValueError as exc:
        raise ConfigError(f"invalid number in client settings: {exc}") from None
    if not 1 <= par <= 64:
        raise ConfigError("parallel must be between 1 and 64")
    meta = metadata_url or _env(ENV_METADATA_URL) or file.get("metadata_url") or url
    for what, value in (("server URL", url), ("metadata URL", meta)):
        if not str(value).startswith(("http://", "https://")):
            raise ConfigError(f"{what} {value!r} must start with http:// or https://")
    secret = _env(ENV_CLIENT_SECRET) or file.get("client_secret")
    secret_file = file.get("client_secret_file")
    if not secret and secret_file:
        try:
            secret = Path(str(secret_file)).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read client_secret_file {secret_file}: {exc.strerror}") from None
    ca = ca_bundle or _env(ENV_CA_BUNDLE) or file.get("ca_bundle")
    if ca and not Path(str(ca)).expanduser().is_file():
        raise ConfigError(f"CA bundle {ca} is not a file")
    return ClientSettings(
        server_url=str(url),
        token=str(token) if token else None,
        parallel=par,
        memory_bytes=mem or DEFAULT_MEMORY_BYTES,
        metadata_url=str(meta),
        profile=name,
        config_path=path,
        oidc_issuer=_env(ENV_ISSUER) or file.get("oidc_issuer"),
        token_url=_env(ENV_TOKEN_URL) or file.get("token_url"),
        client_id=_env(ENV_CLIENT_ID) or file.get("client_id"),
        client_secret=str(secret) if secret else None,
        scope=_env(ENV_SCOPE) or file.get("scope"),
        ca_bundle=Path(str(ca)).expanduser() if ca else None,
        token_file=default_config_path().parent / "tokens" / f"{name or 'default'}.json",
    )
