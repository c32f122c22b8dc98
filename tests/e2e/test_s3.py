"""The cloud destination against a real S3 server: backup, restore on a new machine, copy, status."""

import os

import pytest

from bench.datasets import assert_same_tree
from tests.conftest import PASSWORD


@pytest.fixture
def s3_server(each_s3_server):
    """Every test here runs against rclone's server and SeaweedFS's."""
    return each_s3_server


def test_backup_to_bucket_and_restore_on_a_new_machine(cli, s3_repo, dataset_copy, tmp_path):
    cli("init", "--repo", s3_repo, repo=False)
    first = cli.json("backup", str(dataset_copy), "--repo", s3_repo, repo=False)
    assert first["files_new"] > 500 and first["warnings"] == 0
    new_machine = {"BACKBEAT_HOME": str(tmp_path / "new-machine")}
    snaps = cli.json("snapshots", "--repo", s3_repo, repo=False, env=new_machine)
    assert [s["id"] for s in snaps] == [first["snapshot_id"]]
    assert "src/Documents" in cli("ls", "latest", "--repo", s3_repo, repo=False, env=new_machine).stdout
    cli("restore", "latest", "--target", str(tmp_path / "out"), "--repo", s3_repo, repo=False, env=new_machine)
    assert_same_tree(dataset_copy, tmp_path / "out" / "src")
    assert cli.json("check", "--read-data", "--repo", s3_repo, repo=False, env=new_machine)["ok"]


def test_copy_folder_to_bucket_and_back(cli, s3_repo, tmp_path):
    src = tmp_path / "docs"
    src.mkdir()
    (src / "a.bin").write_bytes(os.urandom(3 << 20))
    (src / "b.txt").write_text("hello\n" * 10000)
    cli("init")
    cli("backup", str(src))
    copied = cli.json("copy", "--from", str(cli.repo), "--to", s3_repo, repo=False)
    assert copied["objects_copied"] >= 5 and copied["errors"] == []
    assert cli.json("check", "--read-data", "--repo", s3_repo, repo=False)["ok"]

    (src / "c.bin").write_bytes(os.urandom(2 << 20))  # the bucket moves ahead
    cli("backup", str(src), "--repo", s3_repo, repo=False)
    status = cli.json("status", "--repo", s3_repo, repo=False)  # against the latest snapshot, in the bucket
    by_location = {d["location"]: d for d in status["destinations"]}
    assert by_location[str(cli.repo)]["percent_backed_up"] < 100  # the folder lacks c.bin
    assert by_location[s3_repo]["percent_backed_up"] == 100
    assert status["bandwidth"]["policy"] == "Keep my internet usable (automatic)"  # the default

    back = cli.json("copy", "--from", s3_repo, "--to", str(cli.repo), repo=False)
    assert back["objects_copied"] >= 3 and back["objects_present"] >= 5
    assert cli.json("check", "--read-data")["ok"]
    status = cli.json("status")
    assert all(d["percent_backed_up"] == 100 for d in status["destinations"])
    cli("restore", "latest", "--target", str(tmp_path / "out"))
    assert_same_tree(src, tmp_path / "out" / "docs")


def test_copy_refuses_another_repository(cli, s3_repo, tmp_path):
    cli("init")
    cli("init", "--repo", s3_repo, repo=False)
    proc = cli("copy", "--from", str(cli.repo), "--to", s3_repo, repo=False, ok=(1,))
    assert "holds another repository" in proc.stderr


def test_missing_index_is_rebuilt_from_pack_headers(cli, s3_server, s3_repo, tmp_path):
    src = tmp_path / "docs"
    src.mkdir()
    (src / "a.bin").write_bytes(os.urandom(1 << 20))
    cli("init", "--repo", s3_repo, repo=False)
    cli("backup", str(src), "--repo", s3_repo, repo=False)
    bucket = s3_repo.split("/")[-2]
    assert s3_server.delete(bucket, "repo/index/") == 1
    new_machine = {"BACKBEAT_HOME": str(tmp_path / "new-machine")}
    cli("restore", "latest", "--target", str(tmp_path / "out"), "--repo", s3_repo, repo=False, env=new_machine)
    assert (tmp_path / "out" / "docs" / "a.bin").read_bytes() == (src / "a.bin").read_bytes()
    assert not any(k.startswith("repo/index/") for k in s3_server.objects(bucket))  # a reader writes nothing
    cli("backup", str(src), "--repo", s3_repo, repo=False, env=new_machine)
    assert any(k.startswith("repo/index/") for k in s3_server.objects(bucket))  # the next backup writes it


def test_bad_credentials_missing_bucket_endpoint_down(cli, s3_server, s3_repo):
    cli("init", "--repo", s3_repo, repo=False)
    proc = cli("snapshots", "--repo", s3_repo, repo=False, ok=(1,), env={"AWS_SECRET_ACCESS_KEY": "nope"})
    assert "the secret access key is wrong" in proc.stderr and "AWS_SECRET_ACCESS_KEY" in proc.stderr
    assert "rights" not in proc.stderr  # not a question of permissions
    proc = cli("snapshots", "--repo", s3_repo, repo=False, ok=(1,), env={"AWS_ACCESS_KEY_ID": "NOSUCHKEY"})
    assert "refused the credentials" in proc.stderr and "access key id" in proc.stderr
    proc = cli("init", "--repo", s3_server.location("no-such-bucket"), repo=False, ok=(1,))
    assert "bucket does not exist" in proc.stderr and "Create the bucket" in proc.stderr
    proc = cli("backup", "/etc/hostname", "--repo", "s3:http://127.0.0.1:9/bucket/repo", repo=False, ok=(1,))
    assert "cannot reach http://127.0.0.1:9" in proc.stderr and "hint:" in proc.stderr


def test_a_restore_of_one_file_reads_only_its_range_of_the_pack(s3_server, s3_repo, tmp_path):
    """From the cloud, restoring one small file of a pack that holds forty reads that file's bytes
    (a ranged GET), not the pack: a user fetching one document back waits for it alone. Two files
    far apart in the pack are two ranged reads, not one span with everything between."""
    from engine.backends.location import open_location
    from engine.jobs.session import open_session
    from engine.service import BackupService
    from tests.faulty_s3 import FaultyS3, backed_up

    src = tmp_path / "src"
    backed_up(s3_repo, src, [f"doc{i:02}.bin" for i in range(40)], 60_000)
    session = open_session(open_location(s3_repo), PASSWORD)  # where each file (one blob) lies in its pack
    try:
        at = {p.name: session.index.get(session.repo.key.blob_id(p.read_bytes())).offset for p in src.iterdir()}
    finally:
        session.close()
    first, last = min(at, key=at.__getitem__), max(at, key=at.__getitem__)
    bucket = s3_repo.rsplit("/", 2)[1]
    packs = {k: size for k, size in s3_server.objects(bucket).items() if "/data/" in k}
    big = max(packs, key=packs.__getitem__)  # the files' pack (the other holds the folder's tree)
    assert packs[big] > 40 * 60_000
    front = FaultyS3(s3_server.endpoint)
    service = BackupService(s3_repo.replace(s3_server.endpoint, front.endpoint))
    try:
        service.unlock(PASSWORD)
        front.served.clear()
        summary = service.restore("latest", str(tmp_path / "out"), includes=["src/doc07.bin"])
        assert summary.files == 1 and not summary.failed
        assert (tmp_path / "out" / "src" / "doc07.bin").read_bytes() == (src / "doc07.bin").read_bytes()
        from_big = [n for key, n in front.served if key.endswith(big)]
        assert len(from_big) == 1 and 60_000 <= from_big[0] < 61_000, front.served
        front.served.clear()  # the files at the pack's two ends: their two ranges, not the 2.3 MB between
        summary = service.restore("latest", str(tmp_path / "out2"), includes=[f"src/{first}", f"src/{last}"])
        assert summary.files == 2 and not summary.failed
        from_big = [n for key, n in front.served if key.endswith(big)]
        assert len(from_big) == 2 and sum(from_big) < 2 * 61_000, front.served
    finally:
        service.close()
        front.close()
