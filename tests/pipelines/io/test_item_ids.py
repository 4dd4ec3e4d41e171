"""pipelines/io/item_ids.py: the one check of a feature record's id."""

import pytest

from pipelines.io import item_ids


@pytest.mark.parametrize("raw, expected", [
    (b" v1 ", ("v1", None)),
    ("vidéo".encode("utf-8"), ("vidéo", None)),
    (b"\xff\xfe", ("", "missing_id")),  # not UTF-8
    (b"a\x85b", ("", "missing_id")),  # a lone 0x85 byte is not UTF-8 either
    (b"   ", ("", "empty_id")),
    (b"a\tb", ("", "id_control_character")),
    ("a\u0085b".encode("utf-8"), ("", "id_control_character")),  # a C1 control
])
def test_decode_id(raw, expected):
  assert item_ids.decode_id(raw) == expected
