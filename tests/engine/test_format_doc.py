"""docs/format.md's recipes are code: its Python blocks run here against real repositories of both
format versions and against the bounds the code enforces, so the document cannot drift."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from engine.backends import base
from engine.backends.base import pack_name
from engine.backends.local import LocalBackend
from engine.repo import keys, repository
from engine.repo.blob import MAX_BLOB
from engine.repo.blobstore import PACK_MAX_BLOBS
from engine.repo.repository import Repository
from tests.fixtures.formats import PASSWORDS

DOC = Path(__file__).resolve().parents[2] / "docs" / "format.md"
V1, V2 = (Path(__file__).resolve().parents[1] / "fixtures" / f"format-v{n}" for n in (1, 2))


@pytest.fixture(scope="module")
def doc() -> dict:
    """The namespace the document's Python blocks define, run in their order."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) >= 3
    namespace: dict = {}
    exec(compile("\n".join(blocks), str(DOC), "exec"), namespace)  # noqa: S102 - our own document
    return namespace


def _repositories(tmp_path) -> list[Repository]:
    shutil.copytree(V2, tmp_path / "v2")
    new = Repository.open(LocalBackend(tmp_path / "v2"), PASSWORDS[2])
    shutil.copytree(V1, tmp_path / "v1")
    old = Repository.open(LocalBackend(tmp_path / "v1"), PASSWORDS[1])
    old.add_mac()  # the v1 recipe, as the first writer gives an older repository its MAC
    return [new, old]


def test_the_documented_sub_keys_and_config_mac_are_what_the_code_writes(doc, tmp_path):
    repos = _repositories(tmp_path)
    assert [r.config["version"] for r in repos] == [repository.FORMAT_VERSION, 1] == [2, 1]
    for repo in repos:
        master, version = repo.key.to_bytes(), repo.config["version"]
        config = json.loads(repo.backend.get("config"))
        assert doc["config_mac"](master, config) == config["mac"], version
        assert doc["chunker_seed"](master, version) == repo.chunker_seed, version
        assert doc["tree_part_seed"](master, version) == repo.tree_seed, version
        for purpose in ("backbeat config", "seed manifest"):
            assert doc["subkey"](master, version, purpose, 32) == repo.key.subkey(purpose, 32)


def test_the_documented_pack_names_and_header_binding_are_what_the_code_writes(doc, tmp_path):
    for repo in _repositories(tmp_path):
        version, packs = repo.config["version"], list(repo.pack_ids())
        assert packs
        for pack_id in packs:
            data = repo.backend.get(pack_name(pack_id))
            assert doc["pack_id"](data, version) == pack_id
            sealed = data[len(data) - 4 - int.from_bytes(data[-4:], "little") : -4]
            repo.key.open(sealed, doc["pack_header_aad"](pack_id, version))  # raises when the aad is not the one sealed


def test_the_documented_limits_are_the_ones_enforced(doc):
    limits = doc["LIMITS"]
    assert doc["NAME"] == base._NAME.pattern
    assert [
        limits[k] for k in ("config bytes", "key file bytes", "lock bytes", "snapshot bytes", "index file bytes")
    ] == [base.MOST[k] for k in ("config", "keys/", "locks/", "snapshots/", "index/")]
    assert limits["chunk sizes"] == repository._CHUNK_BOUNDS
    assert limits["pack size"] == repository._PACK_BOUNDS
    assert limits["blob plaintext"] == MAX_BLOB
    assert limits["blobs per pack"] == PACK_MAX_BLOBS
    (m_low, m_high), (i_low, i_high), (l_low, l_high) = (
        limits[f"argon2 {k}"] for k in ("memory_kib", "iterations", "lanes")
    )
    assert keys._reasonable(m_high, i_high, l_high) and keys._reasonable(max(m_low, 8 * l_low), i_low, l_low)
    for too_much in ((m_high + 1, 3, 4), (m_low - 1, 3, 1), (65536, i_high + 1, 4), (65536, i_low - 1, 4),
                     (65536, 3, l_high + 1), (65536, 3, l_low - 1), (8 * 4 - 1, 3, 4)):  # fmt: skip
        assert not keys._reasonable(*too_much), too_much
