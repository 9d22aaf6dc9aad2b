"""What the plugin asks of the metadata service (Song, or score-server's embedded registry): the object id of a
file named by study, analysis and file name; an object's registered analysis and size; publishing.

Publishing: an analysis usually holds several files (a BAM and its index), each a separate Snakemake output
stored one after the other. Publishing is tried after each upload and done by the upload that completes the
analysis; the earlier ones only log what is still missing. Snakemake stores outputs one at a time in its main
process, so two uploads never both see the analysis complete.
"""

from __future__ import annotations

import logging

from score import Client
from score.client.http.metadata_api import MetadataApi
from score.client.http.song_entities import Analysis, AnalysisFile
from score.domain import errors as e
from snakemake_storage_plugin_score.logs import say
from snakemake_storage_plugin_score.query import ScoreQuery

PUBLISHED = "PUBLISHED"


def object_id_by_name(client: Client, query: ScoreQuery) -> str:
    """The object id of the file *query* names (``score://<study>/<analysis-id>/<file-name>``).

    Raises:
        NotFoundError: no such study or analysis, or no file of that name in it.
    """
    meta = client.session.metadata()
    try:
        analysis = meta.analysis(str(query.study), str(query.analysis_id))
    finally:
        meta.close()
    found = next((f.object_id for f in analysis.files if f.file_name == query.file_name), None)
    if found is None:
        raise e.NotFoundError(
            f"analysis {query.analysis_id} of study {query.study} has no file named {query.file_name!r}"
        )
    return found


def _analysis_of(meta: MetadataApi, object_id: str, query: ScoreQuery) -> tuple[str, str, Analysis]:
    """The study, analysis id and analysis of *object_id* (named in *query*, else asked of the registry).

    Raises:
        NotFoundError: the registry does not know the object or its analysis.
    """
    if query.by_name:
        study, analysis_id = str(query.study), str(query.analysis_id)
    else:
        entity = meta.entity(object_id)
        if entity is None or not entity.study or not entity.analysis_id:
            raise e.NotFoundError(f"the metadata service does not know object {object_id}")
        study, analysis_id = entity.study, entity.analysis_id
    return study, analysis_id, meta.analysis(study, analysis_id)


def registered_file(client: Client, object_id: str, query: ScoreQuery) -> AnalysisFile | None:
    """The object's entry in its analysis (registered size and MD5); None when the analysis does not list it."""
    meta = client.session.metadata()
    try:
        _, _, analysis = _analysis_of(meta, object_id, query)
    finally:
        meta.close()
    return next((f for f in analysis.files if f.object_id == object_id), None)


def publish_when_complete(client: Client, object_id: str, query: ScoreQuery, logger: logging.Logger) -> bool:
    """Publish the analysis of *object_id* if every one of its files has been uploaded; log what it waits for
    otherwise.

    Returns:
        True when the analysis is published (now or before), False when files are still missing.

    Raises:
        ScoreError: the registry does not know the object or the analysis, or refuses to publish (the token
            lacks the study's write scope; a file's size or MD5 differs from the registered ones).
    """
    meta = client.session.metadata()
    try:
        study, analysis_id, analysis = _analysis_of(meta, object_id, query)
        if analysis.state == PUBLISHED:
            say(logger, f"analysis {analysis_id} of study {study} is already published")
            return True
        waiting = [f.file_name or f.object_id for f in analysis.files if not client.api.object_exists(f.object_id)]
        if waiting:
            say(
                logger,
                f"analysis {analysis_id} of study {study}: {len(waiting)} file(s) not uploaded yet "
                f"({', '.join(waiting[:5])}); it is published once the last one is stored",
            )
            return False
        meta.set_state(study, analysis_id, "publish")
        say(logger, f"published analysis {analysis_id} of study {study}")
        return True
    finally:
        meta.close()
