"""The S3-1 fixer's plan on configurations the lab in a box cannot run (it has Swift 2.30, no swift3): the Kilo
notes' swift3 file and an "upgraded" Kilo file on Swift 2.30 (s3api with keystonemiddleware's s3_token). The fixer
reads the file through a real local shell (LocalTransport) and plans through the real FixContext; nothing is
applied here (the lab's fault matrix applies it for real)."""
from pathlib import Path

from fixes.storage_proxy import put_s3_pipeline_in_release_order
from stackcheck.fixing import FixContext
from stackcheck.probes.paste import PasteConfig, s3_pipeline_verdict
from stackcheck.transport import LocalTransport

DATA = Path(__file__).parent / "data" / "storage"


class LabStub:
    def __init__(self, conf: Path):
        self.values = {"swift.proxy_conf": str(conf), "swift.cache_dir": str(conf.parent),
                       "swift.proxy_service": "swift-proxy", "swift.port": 8080, "connect_timeout": 2}

    def get(self, key):
        return self.values[key]


def plan(tmp_path, text: str) -> FixContext:
    conf = tmp_path / "proxy-server.conf"
    conf.write_text(text)
    ctx = FixContext(LocalTransport(), lab=LabStub(conf))
    put_s3_pipeline_in_release_order(ctx)
    return ctx


def test_swift3_in_the_wrong_order_gets_the_kilo_order(tmp_path):
    kilo = (DATA / "proxy-server.kilo-notes.conf").read_text()
    broken = kilo.replace("swift3 s3token authtoken keystoneauth", "authtoken swift3 s3token keystoneauth")
    ctx = plan(tmp_path, broken)
    (edit,) = ctx.edits
    assert "-pipeline = catch_errors healthcheck cache authtoken swift3 s3token keystoneauth" in edit.diff()
    assert "+pipeline = catch_errors healthcheck cache swift3 s3token authtoken keystoneauth" in edit.diff()
    assert s3_pipeline_verdict(PasteConfig(edit.new), "2.3.0").ok
    assert [a.description for a in ctx.actions] == ["restart swift-proxy and wait for /healthcheck"]


def test_right_kilo_file_is_a_noop(tmp_path):
    ctx = plan(tmp_path, (DATA / "proxy-server.kilo-notes.conf").read_text())
    assert ctx.empty


def test_kilo_file_upgraded_to_swift_2_30_gets_s3api_s3token_and_service_auth(tmp_path):
    # what an upgrade that only swapped swift3 for s3api leaves: the old order, keystonemiddleware's s3_token
    recipe = (DATA / "proxy-server.recipe-2.30.1.conf").read_text()
    upgraded = recipe.replace("authtoken s3api s3token keystoneauth", "s3api s3token authtoken keystoneauth")
    section = recipe[recipe.index("[filter:s3token]"):recipe.index("[filter:cache]")]
    upgraded = upgraded.replace(section, "[filter:s3token]\npaste.filter_factory = keystonemiddleware.s3_token:"
                                         "filter_factory\nauth_port = 35357\nauth_host = 127.0.2.1\n\n")
    ctx = plan(tmp_path, upgraded)
    (edit,) = ctx.edits
    new = PasteConfig(edit.new)
    assert s3_pipeline_verdict(new, "2.30.1").ok, s3_pipeline_verdict(new, "2.30.1").problems
    s3token = new.options(new.filter_of_role("s3token"))
    assert s3token["use"] == "egg:swift#s3token" and "paste.filter_factory" not in s3token
    assert s3token["auth_uri"] == "http://127.0.2.1:5000/v3"
    assert s3token["username"] == "swift" and s3token["password"] == "swiftpass"  # authtoken's service user
    assert "swiftpass" not in edit.diff() and "+password = [REDACTED]" in edit.diff()
    assert any("service credentials of [filter:authtoken]" in n for n in ctx.notes)
