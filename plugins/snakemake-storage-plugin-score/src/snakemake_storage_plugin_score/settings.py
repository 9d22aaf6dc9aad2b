"""The plugin's settings: ``--storage-score-<name>`` on Snakemake's command line, or a ``storage`` directive.

Every one is optional: what is not given is read as ``score-client`` reads it (``STORAGE_URL`` or
``SCORE_SERVER_URL``, ``ACCESSTOKEN``, ``METADATA_URL``, ``SCORE_PROFILE``, then the config file's profile).

No ``from __future__ import annotations`` here: Snakemake reads each field's type at run time to build its
command line options (a string annotation would turn the boolean flag into a tagged string option).
"""

from dataclasses import dataclass, field

from snakemake_interface_storage_plugins.settings import StorageProviderSettingsBase


@dataclass
class StorageProviderSettings(StorageProviderSettingsBase):
    """Where the server is, which token, which profile; whether outputs get their analysis published."""

    server_url: str | None = field(
        default=None,
        metadata={
            "help": "Score server URL (default: as score-client, STORAGE_URL or SCORE_SERVER_URL, then the "
            "config file's profile).",
        },
    )
    token: str | None = field(
        default=None,
        repr=False,
        metadata={
            "help": "access token (default: as score-client, ACCESSTOKEN or SCORE_ACCESS_TOKEN, then the "
            "profile's login or client credentials); prefer the environment to the command line.",
            "env_var": True,
        },
    )
    profile: str | None = field(
        default=None,
        metadata={"help": "score-client config file profile (default: SCORE_PROFILE, else the default profile)."},
    )
    metadata_url: str | None = field(
        default=None,
        metadata={
            "help": "Song (metadata service) URL, for score://<study>/<analysis-id>/<file-name> queries and "
            "publishing (default: METADATA_URL, else the server's embedded registry).",
        },
    )
    publish: bool = field(
        default=False,
        metadata={
            "help": "after uploading an output, publish its analysis once every file of the analysis is "
            "uploaded (Song's PUT /studies/{study}/analysis/publish/{analysis-id}).",
        },
    )
