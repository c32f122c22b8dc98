"""One suite for every backend: what the engine relies on, checked against the real thing."""

import os

import pytest

from engine.errors import ObjectNotFound


def run_conformance(backend) -> None:
    assert not backend.exists()
    data = os.urandom(300_000)
    backend.put("data/ab/abcdef", data)
    backend.put("keys/k1", b"key one")
    backend.put("keys/k2", b"key two")

    assert backend.get("data/ab/abcdef") == data
    assert backend.get("data/ab/abcdef", 1000, 500) == data[1000:1500]
    assert backend.get("data/ab/abcdef", -64) == data[-64:]
    assert backend.get("data/ab/abcdef", 299_990) == data[299_990:]
    assert backend.size("data/ab/abcdef") == len(data)
    assert backend.list("keys/") == ["keys/k1", "keys/k2"]
    assert backend.list_sizes("data/") == {"data/ab/abcdef": len(data)}
    assert backend.list("index/") == []

    with pytest.raises(ObjectNotFound):
        backend.get("keys/missing")
    with pytest.raises(ObjectNotFound):
        backend.size("keys/missing")

    backend.put("keys/k1", b"replaced whole")  # immutable in use, but a retried put must land whole
    assert backend.get("keys/k1") == b"replaced whole"
    backend.delete("keys/k2")
    assert backend.list("keys/") == ["keys/k1"]

    backend.put("config", b"{}")
    assert backend.exists()


def run_put_file(backend, tmp_path) -> None:
    path = tmp_path / "outbox.pack"
    payload = os.urandom(3 << 20)
    path.write_bytes(payload)
    backend.put_file("data/cd/cdef", str(path))
    assert backend.get("data/cd/cdef") == payload
    assert backend.size("data/cd/cdef") == len(payload)
