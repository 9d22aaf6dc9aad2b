"""Study and analysis ids a user types are checked before they become a URL path (their 404 read as a wrong
server URL)."""

from __future__ import annotations

import pytest

from score.cli import client_main
from score.domain import errors as e
from score.domain.ids import check_path_id


@pytest.mark.parametrize(
    ("what", "value", "message"),
    [
        ("study id", "", "the study id must not be empty"),
        ("study id", "a/b", "invalid study id 'a/b': ids have no '/', spaces or control characters"),
        ("study id", "a b", "invalid study id 'a b'"),
        ("analysis id", "AN1\n", "invalid analysis id 'AN1\\n'"),
    ],
)
def test_ids_that_cannot_be_one_path_segment_are_refused(what: str, value: str, message: str) -> None:
    with pytest.raises(e.InvalidRequestError) as refused:
        check_path_id(what, value)
    assert refused.value.message.startswith(message)
    assert check_path_id(what, "DEMO-1_x.y") == "DEMO-1_x.y"


@pytest.mark.parametrize(
    "argv",
    [
        ["submit", "--study-id", "", "--files", "README.md"],
        ["submit", "--study-id", "a/b", "--files", "README.md"],
        ["publish", "--study-id", "S", "--analysis-id", "x/../y"],
        ["download", "--study-id", "a b", "--analysis-id", "AN1", "--output-dir", "out"],
    ],
)
def test_the_commands_refuse_them_before_any_request(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """New-user trial: ``submit --study-id ""`` or ``"a/b"`` said "no such endpoint ... check --server-url"."""
    monkeypatch.setenv("STORAGE_URL", "http://127.0.0.1:9")  # nothing listens: a request would be exit 6
    monkeypatch.setenv("ACCESSTOKEN", "t")
    assert client_main.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("score-client: error: ") and " id " in err and "endpoint" not in err, err
