"""``score-server token``: it signs only with a key that a server uses, and says which key that is."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from score.auth.embedded import KEY_FILE, EmbeddedIssuer
from score.cli import server_main


def test_token_without_a_key_exits_2_naming_where_it_looked_and_the_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 24: `score-server token` run outside the data directory made a new key in ./score-data."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCORE_DATA_DIR", raising=False)
    assert server_main.main(["token", "--scope", "score.READ"]) == 2
    out, err = capsys.readouterr()
    key = tmp_path / "score-data" / "secrets" / KEY_FILE
    assert out == ""
    assert err == (
        f"score-server token: no signing key in {key}: no server has used this data directory, so its tokens "
        "would be refused; give the server's data directory (--data-dir or SCORE_DATA_DIR), "
        "or --create-key to create the key before the server's first start\n"
    )
    assert not (tmp_path / "score-data").exists(), "nothing is created"


def test_token_honours_score_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    issuer = EmbeddedIssuer(data / "secrets")  # what the server made on its first start
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCORE_DATA_DIR", str(data))
    assert server_main.main(["token", "--scope", "score.READ"]) == 0
    out, err = capsys.readouterr()
    claims = jwt.decode(out.strip(), issuer.public_key, algorithms=["ES256"], options={"verify_aud": False})
    assert claims["scope"] == "score.READ"
    assert err == f"score-server token: signed with {data / 'secrets' / KEY_FILE}\n"
    assert not (tmp_path / "score-data").exists()


def test_create_key_makes_the_key_the_server_then_uses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "fresh"
    assert server_main.main(["token", "--data-dir", str(data), "--create-key"]) == 0
    out, err = capsys.readouterr()
    key = data / "secrets" / KEY_FILE
    assert err == f"score-server token: signed with {key}\n"
    assert key.stat().st_mode & 0o777 == 0o600
    server_key = EmbeddedIssuer(data / "secrets").public_key  # the server loads the same file
    jwt.decode(out.strip(), server_key, algorithms=["ES256"], options={"verify_aud": False})
    # a second run finds the key and needs no flag
    assert server_main.main(["token", "--data-dir", str(data)]) == 0
