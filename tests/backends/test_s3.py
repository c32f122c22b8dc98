import pytest

from engine.backends.location import open_location
from engine.backends.s3 import S3Backend, S3Credentials
from engine.base.errors import CredentialsRefused, NoSuchBucket, TransientBackendError
from engine.config.destination import parse_s3
from tests.backends.conformance import run_conformance, run_put_file
from tests.s3server import ACCESS_KEY


@pytest.fixture
def s3_server(each_s3_server):
    """Every test here runs against rclone's server and SeaweedFS's."""
    return each_s3_server


def test_conformance(s3_server, request):
    bucket = s3_server.bucket("conformance")
    run_conformance(S3Backend(parse_s3(s3_server.location(bucket))))


def test_put_file_keeps_the_outbox_file_until_the_caller_drops_it(s3_server, tmp_path):
    backend = S3Backend(parse_s3(s3_server.location(s3_server.bucket("putfile"))))
    run_put_file(backend, tmp_path)
    assert (tmp_path / "outbox.pack").exists()


def test_location_grammar():
    aws = parse_s3("s3://my-bucket/backups/mac")
    assert (aws.bucket, aws.prefix, aws.endpoint) == ("my-bucket", "backups/mac", None)
    other = parse_s3("s3:https://s3.eu-central-003.backblazeb2.com:443/b2bucket")
    assert (other.bucket, other.prefix, other.endpoint) == (
        "b2bucket",
        "",
        "https://s3.eu-central-003.backblazeb2.com:443",
    )
    assert str(other) == "s3:https://s3.eu-central-003.backblazeb2.com:443/b2bucket"


def test_errors_say_what_to_fix(s3_server):
    good = s3_server.location(s3_server.bucket("errors"))
    with pytest.raises(CredentialsRefused):
        S3Backend(parse_s3(good), S3Credentials(ACCESS_KEY, "wrong secret")).list("keys/")
    with pytest.raises(NoSuchBucket):
        S3Backend(parse_s3(s3_server.location("no-such-bucket"))).get("config")
    down = open_location("s3:http://127.0.0.1:9/bucket/repo")
    with pytest.raises(TransientBackendError) as err:
        down.list("keys/")
    assert "cannot reach" in str(err.value)


def test_credentials_never_show(s3_server):
    assert "wrong" not in repr(S3Credentials(ACCESS_KEY, "wrong secret"))


def test_s3_locations_from_the_apps_fields_read_back():
    from engine.config.destination import parse_s3, s3_location

    for bucket, prefix, endpoint in (("b", "", None), ("b", "a/c", None), ("b", "x", "https://h:9000")):
        loc = parse_s3(s3_location(bucket, prefix, endpoint))
        assert (loc.bucket, loc.prefix, loc.endpoint) == (bucket, prefix, endpoint)


def test_plain_http_beyond_this_computer_is_said():
    from engine.config.destination import plain_http_note

    assert "plain http" in plain_http_note("s3:http://nas.home.arpa:9000/bucket/repo")
    assert "plain http" in plain_http_note("s3:http://192.0.2.7/bucket")
    for quiet in ("s3:https://s3.example.org/b", "s3:http://127.0.0.1:9000/b", "s3:http://localhost/b", "s3://b/p"):
        assert plain_http_note(quiet) is None


def test_the_cli_notes_plain_http(cli):
    """Said as the service opens the location, before any request (`about` sends none)."""
    proc = cli("about", "--repo", "s3:http://nas.home.arpa:9000/bucket/repo", repo=False)
    assert "note: s3:http://nas.home.arpa:9000/bucket/repo: this storage service is reached over plain http" in (
        proc.stderr
    )
