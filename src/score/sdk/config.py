"""Client settings: defaults < Score's profile < Score's properties < TOML file < environment < flags.

Built once by client_main. Score 5.x's own settings (its Spring profiles, ``application.properties``, its
environment names) are read by :mod:`score.sdk.score5_settings`; what this client does not support becomes a
warning in :attr:`ClientSettings.warnings`, never silence.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from score.domain.errors import ConfigError
from score.sdk import score5_settings as score5

DEFAULT_SERVER_URL = "http://127.0.0.1:5431"
DEFAULT_PARALLEL = 4
DEFAULT_MEMORY_BYTES = 100 * 1024 * 1024
DEFAULT_TIMEOUT_SECONDS = 60.0  # Score's client.connectTimeoutSeconds and readTimeoutSeconds
MIB = 1024 * 1024
GIB = 1024 * MIB

# Score's environment names first, then ours.
ENV_SERVER_URL = ("STORAGE_URL", "SCORE_SERVER_URL")
ENV_TOKEN = ("ACCESSTOKEN", "CLIENT_ACCESSTOKEN", "SCORE_ACCESS_TOKEN")
ENV_PARALLEL = ("TRANSPORT_PARALLEL", "SCORE_PARALLEL")
ENV_METADATA_URL = ("METADATA_URL", "SCORE_METADATA_URL")
ENV_MEMORY_GIB = ("TRANSPORT_MEMORY",)  # GiB, as Score's transport.memory
ENV_MEMORY_MIB = ("SCORE_MEMORY",)  # MiB, as our --memory and memory_mib
# ours first: STORAGE_PROFILE=default, exported for Score's launcher, must not hide a SCORE_PROFILE
ENV_PROFILE = ("SCORE_PROFILE", "STORAGE_PROFILE")
ENV_UPLOAD_STATE_DIR = ("CLIENT_UPLOADSTATEDIR", "SCORE_UPLOAD_STATE_DIR")
ENV_TIMEOUT = ("CLIENT_READTIMEOUTSECONDS", "CLIENT_CONNECTTIMEOUTSECONDS", "SCORE_TIMEOUT_SECONDS")
ENV_QUIET = ("CLIENT_QUIET",)
ENV_SILENT = ("CLIENT_SILENT",)
ENV_PORTAL_URL = ("PORTAL_URL", "SCORE_PORTAL_URL")  # as cli/client_manifest.py reads them
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
    upload_state_dir: Path | None = None  # Score's client.uploadStateDir: uploads keep no local state here
    quiet: bool = False  # Score's client.quiet (the --quiet flag also sets it)
    silent: bool = False  # Score's client.silent
    portal_url: str | None = None  # Score's portal.url (manifest ids); its default, dcc.icgc.org, is retired
    warnings: tuple[str, ...] = ()  # Score settings read but not supported, each with what to use instead

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


def _check_url(what: str, value: str) -> None:
    """An http(s) URL with a host and a valid port.

    Raises:
        ConfigError: anything else (said before any request, not as a traceback or a refused connection).
    """
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"{what} {value!r} must start with http:// or https://")
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises for a port that is not a number from 0 to 65535
    except ValueError as exc:
        raise ConfigError(f"{what} {value!r} is not a valid URL ({exc})") from None
    if not parts.hostname:
        raise ConfigError(f"{what} {value!r} has no host")


def _env(names: tuple[str, ...]) -> str | None:
    for n in names:
        if os.environ.get(n):
            return os.environ[n]
    return None


def _read_file(path: Path, explicit: bool) -> dict[str, Any]:
    try:
        fh = open(path, "rb")  # noqa: SIM115  closed below; tomllib is imported only for a file that exists
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"config file {path} does not exist") from None
        return {}
    import tomllib

    try:
        with fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _flag(text: object) -> bool:
    value = str(text).strip().lower()
    if value in ("true", "yes", "1"):
        return True
    if value in ("false", "no", "0", ""):
        return False
    raise ConfigError(f"expected true or false, not {text!r}")


def _check_profile_name(name: str | None) -> None:
    if name and (not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name) or name in (".", "..")):
        raise ConfigError(f"profile name {name!r}: use letters, digits, '.', '_' or '-'")


def _profile_layers(
    name: str | None, path: Path, file: dict[str, Any], in_properties: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(Score's built-in profile, the TOML file's [profiles.NAME]) for *name*; either may be empty.

    *in_properties*: Score's ``application-NAME.properties`` was read, which makes *name* known too.

    Raises:
        ConfigError: a name that is neither ours nor Score's.
    """
    if not name:
        return {}, {}
    profiles = file.get("profiles", {})
    ours = profiles.get(name) if isinstance(profiles, dict) else None
    if ours is not None and not isinstance(ours, dict):
        raise ConfigError(f"[profiles.{name}] of {path} is not a table")
    preset = score5.spring_profile(name)
    if ours is None and preset is None and not in_properties:
        known = sorted(profiles) if isinstance(profiles, dict) else []
        raise ConfigError(
            f"no profile {name!r} in {path}"
            + (f" (known: {', '.join(known)})" if known else "")
            + f"; Score's profiles: {', '.join(score5.SPRING_PROFILES)}; or add [profiles.{name}] to that file, "
            f"or give Score's application.properties (with application-{name}.properties beside it) "
            f"as {score5.ENV_PROPERTIES}"
        )
    return dict(preset or {}), dict(ours or {})


def _memory_bytes(flag_mib: int | None, layered: dict[str, Any]) -> int:
    """--memory (MiB) > TRANSPORT_MEMORY (GiB, Score's) > SCORE_MEMORY (MiB) > the files (memory_mib, or
    Score's transport.memory in GiB, whichever the higher layer set).
    """
    try:
        if flag_mib:
            return int(flag_mib) * MIB
        if gib := _env(ENV_MEMORY_GIB):
            return int(float(gib) * GIB)
        if mib := _env(ENV_MEMORY_MIB):
            return int(mib) * MIB
        if layered.get("memory_mib"):
            return int(layered["memory_mib"]) * MIB
        if layered.get("memory_gib"):
            return int(float(layered["memory_gib"]) * GIB)
    except ValueError as exc:
        raise ConfigError(f"invalid number in client settings: {exc}") from None
    return DEFAULT_MEMORY_BYTES


def _layered(profile: str | None, config: Path | None) -> tuple[dict[str, Any], Path, list[str]]:
    """The files' settings merged (Score's profile < Score's properties < TOML < TOML profile), the TOML path,
    and the warnings of Score's settings.
    """
    env_config = os.environ.get("SCORE_CLIENT_CONFIG")
    path = config or (Path(env_config) if env_config else default_config_path())
    file = _read_file(path, explicit=config is not None or env_config is not None)
    _check_profile_name(profile)
    props = score5.read_score_files(profile, os.environ)
    preset, ours = _profile_layers(profile, path, file, props.profile_read)
    warnings = [*props.warnings, *score5.environment_warnings(os.environ)]
    if profile in score5.PROFILE_NOTES:
        warnings.append(f"warning: {score5.PROFILE_NOTES[profile]}")
    top = {k: v for k, v in file.items() if k != "profiles"}
    layered: dict[str, Any] = {}
    for layer in (preset, props.values, top, ours):
        if "memory_mib" in layer or "memory_gib" in layer:  # one unit per layer: the higher layer's
            layered.pop("memory_mib", None)
            layered.pop("memory_gib", None)
        layered.update(layer)
    return layered, path, warnings


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
    """Resolve the settings from flags (None = not given), environment and the files.

    Raises:
        ConfigError: unreadable config file, unknown profile or invalid values.
    """
    name = profile or _env(ENV_PROFILE)
    file, path, warnings = _layered(name, config)
    token = _env(ENV_TOKEN) or file.get("access_token")
    url = server_url or _env(ENV_SERVER_URL) or file.get("server_url") or DEFAULT_SERVER_URL
    try:
        par = int(parallel or _env(ENV_PARALLEL) or file.get("parallel") or DEFAULT_PARALLEL)
    except ValueError as exc:
        raise ConfigError(f"invalid number in client settings: {exc}") from None
    if not 1 <= par <= 64:
        raise ConfigError("parallel must be between 1 and 64")
    meta = metadata_url or _env(ENV_METADATA_URL) or file.get("metadata_url") or url
    portal = _env(ENV_PORTAL_URL) or file.get("portal_url")
    for what, value in (("server URL", url), ("metadata URL", meta), ("portal URL", portal)):
        if value is not None:
            _check_url(what, str(value))
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
    timeout = _env(ENV_TIMEOUT) or file.get("timeout_seconds") or DEFAULT_TIMEOUT_SECONDS
    state_dir = _env(ENV_UPLOAD_STATE_DIR) or file.get("upload_state_dir")
    return ClientSettings(
        server_url=str(url),
        token=str(token) if token else None,
        parallel=par,
        memory_bytes=_memory_bytes(memory_mib, file),
        timeout_seconds=score5.seconds(str(timeout)),
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
        upload_state_dir=Path(str(state_dir)).expanduser() if state_dir else None,
        quiet=_flag(_env(ENV_QUIET) or file.get("quiet", False)),
        silent=_flag(_env(ENV_SILENT) or file.get("silent", False)),
        portal_url=str(portal) if portal else None,
        warnings=tuple(warnings),
    )
