"""A pasted access token: whitespace around it is dropped; inside it, a clear refusal that never quotes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.kit.files import random_file
from tests.kit.registered import publish_file
from tests.kit.servers import run_client

pytestmark = pytest.mark.e2e


def test_a_token_with_a_newline_or_a_space_around_it_works_and_one_with_a_space_inside_is_refused(
    server_factory: Any, tmp_path: Path
) -> None:
    """New-user trial: ``ACCESSTOKEN="$TOKEN "`` ended with exit 6, "cannot reach the server ... Illegal header
    value b'Bearer <the whole token>'": the token printed in full, and the wrong advice."""
    srv = server_factory(SCORE_METADATA__KIND="registry")
    token = srv.token("score.READ", "score.WRITE")
    oid = publish_file(srv.url, token, "TOK", random_file(tmp_path / "a.bin", 1000))
    for pasted in (f"{token} ", f"{token}\n", f"\t{token}\r\n"):
        r = run_client(["url", "--object-id", oid], server=srv.url, token=pasted)
        assert r.returncode == 0 and r.stdout.startswith("http"), r.stderr
    cut = len(token) // 2
    for broken in (f"{token[:cut]} {token[cut:]}", f"{token[:cut]}\x01{token[cut:]}"):
        r = run_client(["url", "--object-id", oid], server=srv.url, token=broken)
        assert r.returncode == 3, r.stderr
        assert r.stderr == (
            "score-client: error: the access token has spaces or control characters inside it: copy it again, "
            "whole and on one line\n"
        )
        assert token[:cut] not in r.stdout + r.stderr and "Traceback" not in r.stderr
