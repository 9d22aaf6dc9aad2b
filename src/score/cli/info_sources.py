"""``info --verbose``'s "configuration sources" (Score's InfoCommand lists its Spring property sources):
the flags given, the environment variables the client reads, the config file's keys, Score's
``application.properties`` and built-in profile, and the defaults, strongest first; tokens, secrets and
proxy passwords are never shown.
"""

from __future__ import annotations

import argparse
import os
import re
import tomllib
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from score.domain.errors import ConfigError
from score.sdk import config as client_config
from score.sdk import score5_settings as score5
from score.sdk.config import ClientSettings

SECRET_NAME = re.compile(r"token|secret|password|passwd|credential", re.IGNORECASE)
NEVER_SHOWN = "set (never shown)"
# The settings' flags, as the namespace holds them (dest, flag).
FLAGS = (
    ("server_url", "--server-url"),
    ("metadata_url", "--metadata-url"),
    ("config", "--config"),
    ("profile", "--profile"),
    ("parallel", "--parallel"),
    ("memory", "--memory"),
    ("ca_bundle", "--ca-bundle"),
)
# Read by the HTTP stack and the config lookup rather than by the settings themselves.
ENV_TRANSPORT = (
    "SCORE_CLIENT_CONFIG",
    "XDG_CONFIG_HOME",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)


def _without_userinfo(value: str) -> str:
    """A URL without ``user:password@`` (a proxy URL may hold one); other values as they are."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    if not parts.scheme or "@" not in parts.netloc:
        return value
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, f"<credentials hidden>@{host}", parts.path, parts.query, parts.fragment))


def shown(name: str, value: object) -> str:
    """*value* of the setting *name* as ``info`` may print it."""
    if SECRET_NAME.search(name):
        return NEVER_SHOWN
    return _without_userinfo(str(value))


def env_names() -> list[str]:
    """Every environment variable the client reads, in the order of its settings (Score's names first)."""
    names: list[str] = []
    for attr, value in vars(client_config).items():
        if attr.startswith("ENV_") and isinstance(value, tuple):
            names += [n for n in value if isinstance(n, str)]
    return list(dict.fromkeys([*names, *ENV_TRANSPORT]))


def _file_lines(settings: ClientSettings) -> list[str]:
    path = settings.config_path
    if path is None or not path.is_file():
        return [f"  config file {path}: absent"]
    try:
        with open(path, "rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return [f"  config file {path}: unreadable ({exc})"]
    lines = [f"  config file {path}:"]
    lines += [f"    {k}: {shown(k, v)}" for k, v in sorted(data.items()) if not isinstance(v, dict)]
    profiles = data.get("profiles")
    if isinstance(profiles, dict):
        lines.append(f"    profiles: {', '.join(sorted(profiles)) or '(none)'}")
        chosen = profiles.get(settings.profile) if settings.profile else None
        if isinstance(chosen, dict):
            lines.append(f"    [profiles.{settings.profile}] (in use, over the keys above):")
            lines += [f"      {k}: {shown(k, v)}" for k, v in sorted(chosen.items()) if not isinstance(v, dict)]
    return lines


def _score_lines(settings: ClientSettings) -> list[str]:
    """Score's own files and built-in profile, as the settings read them (raw keys, secrets hidden)."""
    try:
        files = score5.read_score_files(settings.profile, os.environ)
        preset = score5.spring_profile(settings.profile) if settings.profile else None
    except ConfigError as exc:  # the settings said so already
        return [f"  Score's settings: unreadable ({exc.message})"]
    lines = []
    for path in files.read:
        try:
            props = score5.parse_properties(path.read_text(encoding="latin-1"))
        except OSError as exc:
            lines.append(f"  Score's properties {path}: unreadable ({exc.strerror})")
            continue
        lines.append(f"  Score's properties {path}:")
        lines += [f"    {k}: {shown(k, v)}" for k, v in sorted(props.items())]
    if preset:
        lines.append(f"  Score's profile {settings.profile}:")
        lines += [f"    {k}: {shown(k, v)}" for k, v in sorted(preset.items())]
    return lines


def configuration_sources(settings: ClientSettings, args: argparse.Namespace) -> list[str]:
    """The lines of ``info --verbose``'s configuration sources, the strongest first."""
    lines = ["configuration sources (a value comes from the first source that sets it):", "  command line:"]
    given = [(flag, getattr(args, dest, None)) for dest, flag in FLAGS]
    lines += [f"    {flag}: {shown(flag, value)}" for flag, value in given if value is not None] or ["    (none)"]
    lines.append("  environment (the variables the client reads):")
    found = [(n, os.environ[n]) for n in env_names() if os.environ.get(n)]
    lines += [f"    {n}: {shown(n, v)}" for n, v in found] or ["    (none set)"]
    lines += _file_lines(settings)
    lines += _score_lines(settings)
    lines += [
        "  defaults:",
        f"    server_url: {client_config.DEFAULT_SERVER_URL}",
        "    metadata_url: the server URL",
        f"    parallel: {client_config.DEFAULT_PARALLEL}",
        f"    memory: {client_config.DEFAULT_MEMORY_BYTES // (1024 * 1024)} MiB",
        f"    timeout: {settings.timeout_seconds:g} s",
    ]
    return lines
