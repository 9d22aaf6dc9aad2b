"""The Snakemake storage plugin's queries and settings, in process (issue 26): the two query forms, wildcards,
what is refused and why, the local paths, and the command-line options Snakemake derives from the settings.
tests/e2e/test_snakemake.py runs it for real.
"""

from __future__ import annotations

import pytest
from snakemake_interface_storage_plugins.registry import StoragePluginRegistry
from snakemake_storage_plugin_score import StorageObject, StorageProvider, StorageProviderSettings
from snakemake_storage_plugin_score.query import QueryError, parse_query

OID = "5b7a1c9e-3f4d-4e2a-9b8c-0d1e2f3a4b5c"


def test_an_object_id_query() -> None:
    q = parse_query(f"score://{OID}")
    assert (q.object_id, q.by_name, q.local_suffix()) == (OID, False, OID)


def test_a_study_analysis_file_query_keeps_the_file_name_locally() -> None:
    q = parse_query("score://DEMO/an-1/sample.bam")
    assert (q.study, q.analysis_id, q.file_name, q.object_id) == ("DEMO", "an-1", "sample.bam", None)
    assert q.by_name and q.local_suffix() == "DEMO/an-1/sample.bam"


@pytest.mark.parametrize("query", ["score://{sample}", "score://{study}/{analysis}/{sample}.bam"])
def test_wildcards_are_valid_before_they_are_filled_in(query: str) -> None:
    assert StorageProvider.is_valid_query(query).valid


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        (f"s3://{OID}", "must start with score://"),
        ("score://", "empty"),
        ("score://not-an-id", "is not an object id"),
        ("score://DEMO/an-1", "expected score://<object-id> or"),
        ("score://DEMO/an-1/sample.bam/extra", "expected score://<object-id> or"),
        ("score://DEMO/../sample.bam", "'..' parts are not allowed"),
        ("score://DEMO/an-1/", "empty"),
    ],
)
def test_invalid_queries_say_why(query: str, reason: str) -> None:
    result = StorageProvider.is_valid_query(query)
    assert not result.valid and reason in str(result.reason)
    with pytest.raises(QueryError, match=reason.replace("(", r"\(")):
        parse_query(query)


def test_snakemake_finds_the_plugin_read_write_with_its_options() -> None:
    plugin = StoragePluginRegistry().get_plugin("score")
    assert plugin.storage_provider is StorageProvider and plugin.storage_object is StorageObject
    assert plugin.is_read_write() and plugin.settings_cls is StorageProviderSettings
    options = {info["name"]: info for info in plugin.get_settings_info()}
    assert options["server_url"]["cliarg"] == "--storage-score-server-url"
    assert options["token"]["env_var"] == "SNAKEMAKE_STORAGE_SCORE_TOKEN"
    assert options["publish"]["default"] is False
    assert "secret-value" not in repr(StorageProviderSettings(token="secret-value"))  # tokens stay out of logs
