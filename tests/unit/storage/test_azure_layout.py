"""Blob names of objects in an Azure container: ours (``data/<id>``) and Score's Azure profile's (bare ``<id>``)."""

from __future__ import annotations

import uuid

import pytest

from score.storage.azure import block_id
from score.storage.azure_layout import BlobNames, is_score_block_id, object_id_of

OID = "0b9c8a38-6a2a-4a5c-9d0e-3f1e2d3c4b5a"


def test_objects_are_read_under_both_names_the_layouts_own_first() -> None:
    ours, score = BlobNames("data"), BlobNames("score-azure")
    assert ours.read_names(f"data/{OID}") == (f"data/{OID}", OID)
    assert score.read_names(f"data/{OID}") == (OID, f"data/{OID}")
    assert (ours.write_name(f"data/{OID}"), score.write_name(f"data/{OID}")) == (f"data/{OID}", OID)
    assert ours.other_names(f"data/{OID}") == (OID,) and score.other_names(f"data/{OID}") == (f"data/{OID}",)


@pytest.mark.parametrize(
    "key", [f"data/{OID}.meta", "data/heliograph", f"upload/{OID}_u1/.meta", ".score-multipart/x", OID, "data/"]
)
def test_every_other_key_is_its_own_name_in_both_layouts(key: str) -> None:
    for layout in ("data", "score-azure"):
        names = BlobNames(layout)
        assert names.read_names(key) == (key,) and names.write_name(key) == key and names.other_names(key) == ()


def test_listing_data_covers_the_root_level_object_ids_only() -> None:
    assert BlobNames.root_prefix("data/") == "" and BlobNames.root_prefix("data/0b9c") == "0b9c"
    assert BlobNames.root_prefix("upload/") is None and BlobNames.root_prefix("data/x/") is None
    assert BlobNames.key_of_root_blob(OID) == f"data/{OID}"
    assert BlobNames.key_of_root_blob("heliograph") is None  # Score's sentinel is no object
    assert object_id_of(f"data/{OID}") == OID and object_id_of(f"data/{OID}.meta") is None


def test_score_clients_block_ids_are_told_from_ours() -> None:
    score_id = f"{uuid.uuid4()}-000003"  # the legacy SDK's BlobOutputStream: random UUID, '-', six digits
    assert is_score_block_id(score_id) and len(score_id) == 43
    ours = block_id(uuid.uuid4().hex, 3, "0" * 32)
    assert not is_score_block_id(ours) and len(ours) != len(score_id)


def test_an_unknown_layout_is_refused() -> None:
    with pytest.raises(ValueError, match="score-azure"):
        BlobNames("flat")
