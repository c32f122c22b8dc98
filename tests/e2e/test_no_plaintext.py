"""Nothing readable leaves the machine: the repository's bytes hold no file name and no content."""

import os


def test_repository_bytes_hold_no_names_or_contents(cli, tmp_path):
    src = tmp_path / "Tax Returns 2025"
    src.mkdir()
    secrets = {}
    for i in range(20):
        name = f"confidential-report-{i:03}.txt"
        body = (f"ACCOUNT-NUMBER-{i:06}-" * 2000).encode()
        (src / name).write_bytes(body)
        secrets[name] = body
    (src / "photo-of-passport.jpg").write_bytes(os.urandom(300_000))
    cli("init")
    cli("backup", str(src))
    blob = b"".join(open(os.path.join(d, f), "rb").read() for d, _, files in os.walk(cli.repo) for f in files)
    needles = [b"Tax Returns", b"confidential-report", b"passport", b"ACCOUNT-NUMBER"]
    needles += [(src / "photo-of-passport.jpg").read_bytes()[1000:1032]]
    needles += [os.fsencode(str(tmp_path))]
    for needle in needles:
        assert needle not in blob, needle
        assert needle.decode("latin-1").encode("utf-16-le") not in blob
