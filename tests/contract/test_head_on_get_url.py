"""What each store answers to HEAD on a URL signed for GET (issue 22).

htsjdk's ``SeekableHTTPStream``, which Score's Java ``view`` reads through, sends HEAD to the URL it was given
and takes ``Content-Length`` from whatever answers, the status unread. The local (and memory) store answers with
the object's headers. The others are recorded as they are, not changed: S3's SigV4 signs the method, so
radosgw (and AWS) refuse the signature; moto and fake-gcs-server check no signature (AWS and GCS would refuse);
an Azure SAS is not bound to a method, and its read permission covers Get Blob Properties.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from score.domain.model import GetTarget
from tests.contract.conftest import Backend, http, run

DATA = b"htsjdk reads the length from a HEAD\n" * 40
ANSWERS = {  # the status of HEAD on a GET URL; 200s carry the object's length
    "memory": 200,
    "local": 200,
    "moto": 200,  # checks no signature; AWS S3 answers 403 (the signature covers the method)
    "radosgw": 403,  # SignatureDoesNotMatch, as AWS S3
    "azurite": 200,  # as Azure: a SAS with read permission admits HEAD
    "gcs": 200,  # checks no signature; GCS answers 403 (a V4 signature covers the method)
}


def test_head_on_a_get_url(backend: Backend) -> None:
    key = f"data/{uuid.uuid4()}"
    run(backend.store.put_bytes, key, DATA)
    url = backend.store.sign_get(GetTarget(key), datetime.now(UTC) + timedelta(minutes=10))
    head = http.request("HEAD", url, timeout=30)
    assert head.status_code == ANSWERS[backend.name], (head.status_code, dict(head.headers))
    if head.status_code == 200:
        assert head.headers["Content-Length"] == str(len(DATA)) and head.content == b""
        assert http.get(url).content == DATA
