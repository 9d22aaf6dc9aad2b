"""Study and analysis ids are checked before they become a URL path (their 404 read as a wrong server URL)."""

from __future__ import annotations

import re

import pytest

from score.client.http.metadata_api import MetadataApi
from score.domain import errors as e


@pytest.mark.parametrize(
    ("study", "analysis", "message"),
    [
        ("", "AN1", "the study id must not be empty"),
        ("a/b", "AN1", "invalid study id 'a/b'"),
        ("a b", "AN1", "invalid study id 'a b'"),
        ("S", "x/../y", "invalid analysis id 'x/../y'"),
        ("S", "AN1\n", "invalid analysis id 'AN1\\n'"),
    ],
)
def test_ids_that_cannot_be_one_path_segment_are_refused_before_any_request(
    study: str, analysis: str, message: str
) -> None:
    """New-user trial: ``submit --study-id ""`` or ``"a/b"`` said "no such endpoint ... check --server-url"."""
    api = MetadataApi("http://127.0.0.1:9", None)  # nothing listens there: a request would be a network error
    try:
        with pytest.raises(e.InvalidRequestError, match="^" + re.escape(message)):
            api.set_state(study, analysis, "publish")
        if analysis == "AN1":
            with pytest.raises(e.InvalidRequestError, match="^" + re.escape(message)):
                api.submit(study, {})
    finally:
        api.close()
