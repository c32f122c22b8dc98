"""One suite for every backend: what the engine relies on, checked against the real thing."""

import os

import pytest

from engine.base.errors import ObjectNotFound

#: names as a repository has them (a backend refuses others)
PACK = "data/ab/ab" + "cd" * 31
PACK2 = "data/cd/cd" + "ef" * 31
K1, K2, MISSING = ("keys/" + c * 64 for c in "123")


def run_conformance(backend) -> None:
    assert not backend.exists()
    data = os.urandom(300_000)
    backend.put(PACK, data)
    backend.put(K1, b"key one")
    backend.put(K2, b"key two")

    assert backend.get(PACK) == data
    assert backend.get(PACK, 1000, 500) == data[1000:1500]
    assert backend.get(PACK, -64) == data[-64:]
    assert backend.get(PACK, 299_990) == data[299_990:]
    assert backend.size(PACK) == len(data)
    assert backend.list("keys/") == [K1, K2]
    assert backend.list_sizes("data/") == {PACK: len(data)}
    assert backend.list("index/") == []

    with pytest.raises(ObjectNotFound):
        backend.get(MISSING)
    with pytest.raises(ObjectNotFound):
        backend.size(MISSING)

    backend.put(K1, b"replaced whole")  # immutable in use, but a retried put must land whole
    assert backend.get(K1) == b"replaced whole"
    backend.delete(K2)
    assert backend.list("keys/") == [K1]

    backend.put("config", b"{}")
    assert backend.exists()


def run_put_file(backend, tmp_path) -> None:
    path = tmp_path / "outbox.pack"
    payload = os.urandom(3 << 20)
    path.write_bytes(payload)
    backend.put_file(PACK2, str(path))
    assert backend.get(PACK2) == payload
    assert backend.size(PACK2) == len(payload)
