"""The Java Score 5.x client's settings, read as it reads them and translated to ours.

Score's client is a Spring Boot program: its settings come from built-in profiles (``--profile collab``,
``STORAGE_PROFILE``), from ``conf/application.properties`` (and ``application-<profile>.properties``) of its
install directory, and from environment variables by Spring's relaxed binding (``client.uploadStateDir`` is
``CLIENT_UPLOADSTATEDIR``). This module knows every setting that client reads (its ``application.yml`` of 5.0 to
5.11, ``ClientProperties``, ``TransportProperties`` and each ``@Value``): those we honour become our setting
names; the others are never dropped in silence but named in a warning that says what to use instead.
Standard library only: it runs in the client install.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from score.domain.errors import ConfigError

ENV_PROPERTIES = "SCORE_CLIENT_PROPERTIES"  # the path of Score's application.properties, wherever it is
CWD_PROPERTIES = Path("conf") / "application.properties"  # Score's conf/ beside the client, from the cwd

# Score's built-in Spring profiles (score-client application.yml, 5.0 to 5.9; 5.10 dropped the URLs),
# in our setting names. "default" is what its launcher passes without STORAGE_PROFILE.
SPRING_PROFILES: dict[str, dict[str, str]] = {
    "default": {},
    "collab": {
        "server_url": "https://storage.cancercollaboratory.org",
        "metadata_url": "https://song.cancercollaboratory.org",
    },
    "aws": {"server_url": "https://virginia.cloud.icgc.org", "metadata_url": "https://virginia.song.icgc.org"},
    "azure": {
        "server_url": "https://score.azure.icgc.overture.bio",
        "metadata_url": "https://song.azure.icgc.overture.bio",
    },
    "oicr": {},  # "uses storage.url and client.ssl.custom defined in common": nothing of its own
    "debug": {},  # Spring DEBUG logging only (warned about below)
}
PROFILE_NOTES = {
    "debug": "Score's 'debug' profile turns on its DEBUG log file; score-client keeps no log file "
    "(its messages and errors go to stderr, each naming its cause)",
}
REFUSED_PROFILES = {
    "kf": "Score's 'kf' profile (the Kids First portal's own download service, removed from Score in 5.10) "
    "has no equivalent: give the URL of a Score server with --server-url or STORAGE_URL",
}

# Score's keys (canonical: lower case, '-' and '_' removed, as Spring binds them) -> our setting name.
SUPPORTED: dict[str, str] = {
    "storage.url": "server_url",
    "metadata.url": "metadata_url",
    "accesstoken": "access_token",
    "client.accesstoken": "access_token",
    "transport.parallel": "parallel",
    "transport.memory": "memory_gib",  # GiB, as Score multiplies it by 1024^3
    "client.uploadstatedir": "upload_state_dir",
    "client.connecttimeoutseconds": "timeout_seconds",
    "client.readtimeoutseconds": "timeout_seconds",
    "client.quiet": "quiet",
    "quiet": "quiet",
    "client.silent": "silent",
    "silent": "silent",
    "portal.url": "portal_url",
}

_CA = "score-client verifies TLS with the system's CAs; for a private CA give a PEM with --ca-bundle or SCORE_CA_BUNDLE"
_JKS = "export the trust store's CA as PEM (keytool -exportcert -rfc) and give it with --ca-bundle or SCORE_CA_BUNDLE"
_DEAD = "it had no effect in Score either; ignored"
_KF = "the Kids First service is not supported (removed from Score in 5.10); ignored"
# Score's keys we do not support -> (values that mean what we do anyway, what to use instead)
UNSUPPORTED: dict[str, tuple[frozenset[str], str]] = {
    "transport.filefrom": (
        frozenset({"memory"}),
        "score-client has one transport (parallel parts, bounded memory); ignored",
    ),
    "storage.retrynumber": (
        frozenset(),
        "score-client's retry budget is fixed (6 attempts per call, with backoff); ignored",
    ),
    "storage.retrytimeout": (frozenset(), _DEAD),
    "storage.profile": (
        frozenset(),
        "a file does not choose the profile (nor in Score): use --profile or STORAGE_PROFILE",
    ),
    "metadata.ssl.enabled": (frozenset({"true"}), _CA + " (verification cannot be turned off)"),
    "client.ssl.custom": (frozenset({"false"}), _JKS),
    "client.ssl.truststore": (frozenset(), _JKS),
    "client.ssl.truststoretype": (frozenset(), _JKS),
    "client.ssl.truststorepassword": (frozenset(), _JKS),
    "client.ssl.trustname": (frozenset(), _CA + " (the host name is always checked)"),
    "client.ssl.keystore": (frozenset(), "client certificates are not supported; use a token"),
    "client.ssl.keystoretype": (frozenset(), "client certificates are not supported; use a token"),
    "client.ssl.keystorepassword": (frozenset(), "client certificates are not supported; use a token"),
    "client.ssl.keyalias": (frozenset(), "client certificates are not supported; use a token"),
    "client.ansi": (frozenset({"true", "false"}), "score-client prints no colours"),
    "ansi": (frozenset({"true", "false"}), "score-client prints no colours"),
    "azure.blocksize": (frozenset(), "the server chooses part sizes, Azure blocks included; ignored"),
    "download.partsize": (frozenset(), _DEAD),
    "mount.logging": (frozenset({"false"}), "mount keeps no FUSE debug log; with --daemonize see --log-file"),
    "defaultprofile": (frozenset(), "not needed: score-client works alike with every storage profile; ignored"),
    "token.publickey": (frozenset(), "not needed: score-client never sends the token to the object store; ignored"),
    "client.encryptedaccesstoken": (frozenset(), "give the token itself as ACCESSTOKEN or access_token"),
    "client.retrylimit": (frozenset(), _DEAD),
    "client.parallelism": (frozenset(), _DEAD + "; use --parallel or TRANSPORT_PARALLEL"),
    "client.proxyuri": (frozenset(), _DEAD + "; score-client honours HTTPS_PROXY, HTTP_PROXY and NO_PROXY"),
    "client.awsaccesskey": (frozenset(), "not needed: bytes move on pre-signed URLs; ignored"),
    "client.awssecretkey": (frozenset(), "not needed: bytes move on pre-signed URLs; ignored"),
    "client.home": (frozenset(), _DEAD),
    "istest": (frozenset({"false"}), "a test switch of Score's; ignored"),
    "kfportal.url": (frozenset(), _KF),
    "kf.token.url": (frozenset(), _KF),
    "kf.download.url": (frozenset(), _KF),
    "kf.download.partsize": (frozenset(), _KF),
    "kf.download.expiration": (frozenset(), _KF),
}
UNSUPPORTED_PREFIXES = {
    "logging.": "score-client writes its messages to stderr and keeps no log file; ignored",
    "spring.": "Spring settings mean nothing here; choose a profile with --profile or STORAGE_PROFILE",
}
# environment names too generic to be read as Score's (QUIET, SILENT, ANSI): files only
_FILE_ONLY = frozenset({"quiet", "silent", "ansi"})
EXTRA_ENV = {"SPRING_PROFILES_ACTIVE": "use --profile or STORAGE_PROFILE to choose a profile"}


def canonical(key: str) -> str:
    """A Score key as Spring binds it: ``client.upload-state-dir`` and ``client.uploadStateDir`` are one."""
    return re.sub(r"[-_]", "", key.strip().lower())


def env_name(key: str) -> str:
    """The environment variable Spring binds to canonical *key* (``client.uploadstatedir``: CLIENT_UPLOADSTATEDIR)."""
    return key.upper().replace(".", "_")


def spring_profile(name: str) -> dict[str, str] | None:
    """The settings Score's built-in profile *name* sets (our names), or None when Score has no such profile.

    Raises:
        ConfigError: a Score profile score-client cannot stand in for.
    """
    if name in REFUSED_PROFILES:
        raise ConfigError(REFUSED_PROFILES[name])
    return SPRING_PROFILES.get(name)


@dataclass
class ScoreFiles:
    """What Score's properties files say, in our setting names, and what they say that we do not do."""

    values: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    read: list[Path] = field(default_factory=list)
    profile_read: bool = False  # an application-<profile>.properties was read


def _unescape(text: str) -> str:
    simple = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2 : i + 6]):
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(simple.get(nxt, nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _logical_lines(text: str) -> list[str]:
    """Java's rules: comments (# !), blank lines, and lines joined by an odd number of trailing backslashes."""
    lines, pending = [], ""
    for raw in text.splitlines():
        line = raw.lstrip(" \t\f")
        if not pending and (not line or line[0] in "#!"):
            continue
        slashes = len(line) - len(line.rstrip("\\"))
        if slashes % 2:
            pending += line[:-1]
            continue
        lines.append(pending + line)
        pending = ""
    if pending:
        lines.append(pending)
    return lines


def parse_properties(text: str) -> dict[str, str]:
    """A Java ``.properties`` text as a dict: ``key=value``, ``key: value`` or ``key value``, with escapes."""
    out: dict[str, str] = {}
    for entry in _logical_lines(text):
        i = 0
        while i < len(entry) and entry[i] not in "=: \t\f":
            i += 2 if entry[i] == "\\" else 1
        rest = entry[i:].lstrip(" \t\f")
        if rest[:1] in ("=", ":"):
            rest = rest[1:].lstrip(" \t\f")
        out[_unescape(entry[:i])] = _unescape(rest)
    return out


def _warning(key: str, where: str, advice: str) -> str:
    return f"warning: Score setting {key} ({where}) is not supported: {advice}"


def translate(props: Mapping[str, str], where: str) -> tuple[dict[str, Any], list[str]]:
    """Score's settings (*props*: key -> text) in our names, and a warning for each one we do not support.

    *where* names the source in the warnings; values are never shown (some are secrets).
    """
    values: dict[str, Any] = {}
    warnings: list[str] = []
    timeouts: list[str] = []
    for key, value in props.items():
        c = canonical(key)
        ours = SUPPORTED.get(c)
        if ours == "timeout_seconds":
            timeouts.append(value)
        elif ours is not None:
            values[ours] = value
        elif c in UNSUPPORTED:
            harmless, advice = UNSUPPORTED[c]
            if value.strip().lower() not in harmless:
                warnings.append(_warning(key, where, advice))
        else:
            prefix = next((p for p in UNSUPPORTED_PREFIXES if c.startswith(p)), None)
            advice = UNSUPPORTED_PREFIXES[prefix] if prefix else "not a setting of Score's client; ignored"
            warnings.append(_warning(key, where, advice))
    if timeouts:
        values["timeout_seconds"] = max(seconds(t) for t in timeouts)  # one timeout here: the longer
    return values, warnings


def seconds(text: str) -> float:
    """*text* as a timeout in seconds (Score's ``client.readTimeoutSeconds``).

    Raises:
        ConfigError: not a number, or not within (0, 86400].
    """
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"client timeout {text!r} is not a number of seconds") from None
    if not 0 < value <= 86400:
        raise ConfigError(f"client timeout {text!r} must be between 0 and 86400 seconds")
    return value


def environment_warnings(environ: Mapping[str, str]) -> list[str]:
    """A warning for each Score environment variable that is set and that score-client does not support."""
    out = []
    for key, (harmless, advice) in UNSUPPORTED.items():
        if key in _FILE_ONLY or key == "storage.profile":  # STORAGE_PROFILE is the profile: supported
            continue
        value = environ.get(env_name(key))
        if value and value.strip().lower() not in harmless:
            out.append(_warning(env_name(key), "environment", advice))
    out += [_warning(n, "environment", advice) for n, advice in EXTRA_ENV.items() if environ.get(n)]
    return out


def _trusted(path: Path) -> str | None:
    """Why a properties file found in the working directory is not read, or None to read it.

    It can name the server the token goes to, so it must be the user's and writable by no one else.
    """
    st = path.stat()
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return "it belongs to another user"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "others may write to it"
    return None


def _read(path: Path, into: ScoreFiles) -> None:
    try:
        text = path.read_text(encoding="latin-1")  # Java's properties encoding
    except OSError as exc:
        raise ConfigError(f"cannot read Score's settings {path}: {exc.strerror}") from None
    values, warnings = translate(parse_properties(text), str(path))
    into.values.update(values)
    into.warnings.extend(warnings)
    into.read.append(path)


def read_score_files(profile: str | None, environ: Mapping[str, str]) -> ScoreFiles:
    """Score's ``application.properties`` and ``application-<profile>.properties``, the latter winning.

    The file is ``$SCORE_CLIENT_PROPERTIES`` (it must exist), else ``./conf/application.properties`` when it is
    there, yours and writable by no one else (Score reads ``conf/`` of its install directory).

    Raises:
        ConfigError: ``SCORE_CLIENT_PROPERTIES`` names no file, or a file cannot be read.
    """
    out = ScoreFiles()
    explicit = environ.get(ENV_PROPERTIES)
    if explicit:
        base = Path(explicit).expanduser()
        if not base.is_file():
            raise ConfigError(f"{ENV_PROPERTIES}={explicit}: no such file")
    elif CWD_PROPERTIES.is_file():
        base = CWD_PROPERTIES
        out.warnings.append(f"note: reading Score's settings from {base.resolve().parent}")
    else:
        return out
    candidates = [base]
    if profile:
        candidates.append(base.with_name(f"application-{profile}.properties"))
    for path in candidates:
        if not path.is_file():
            continue
        refusal = None if explicit else _trusted(path)
        if refusal:
            out.warnings.append(f"warning: {path.resolve()} is not read: {refusal}")
            continue
        _read(path, out)
        out.profile_read = out.profile_read or path != base
    for yml in ("application.yml", "application.yaml"):
        if (base.parent / yml).is_file():
            out.warnings.append(
                f"warning: {base.parent / yml} is not read (YAML): put its keys in {base.name} "
                "or score-client's client.toml"
            )
    return out
