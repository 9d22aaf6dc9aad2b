"""Text from servers made safe for the terminal (issue 20, defect 9)."""

from __future__ import annotations

import httpx

from score.client.http.server_api import error_from_response
from score.client.printable import printable, printable_lines
from score.client.transfer.progress import Board
from score.domain import errors as e


def test_control_characters_are_escaped() -> None:
    text = "a\x1b[2J\x07\r\n\tb\x7f\x9b\u202e\u2066\u2028\udcff é ü"
    assert printable(text) == "a\\x1b[2J\\x07\\x0d\\x0a\\x09b\\x7f\\x9b\\u202e\\u2066\\u2028\\udcff é ü"
    assert printable_lines(text) == "a\\x1b[2J\\x07\\x0d\n\tb\\x7f\\x9b\\u202e\\u2066\\u2028\\udcff é ü"
    assert printable("plain name.bam") == "plain name.bam"


def test_a_servers_message_is_escaped_once_received() -> None:
    body = {"code": "not_found", "message": "no \x1b]0;owned\x07 object\nscore-client: error: forged"}
    err = error_from_response(httpx.Response(404, json=body))
    assert isinstance(err, e.NotFoundError)
    assert err.message == "no \\x1b]0;owned\\x07 object\\x0ascore-client: error: forged"


def test_progress_labels_are_escaped() -> None:
    board = Board(1, False, width=200)
    board.track("x\x1b[31m.bam", 10)
    assert board.line().startswith("x\\x1b[31m.bam:   0.0%")
