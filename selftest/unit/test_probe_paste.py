"""The paste probe (S3-1, SWF-3) on real proxy-server.conf files: Debian's Swift 2.30.1 package file, the working
Swift 2.30.1 + Keystone 22 set-up of the recipe (shared/recipes/swift-keystone) and the Kilo-era file of the
operations notes."""
from pathlib import Path

import pytest

from stackcheck.probes.paste import (
    IniFile, PasteConfig, has_service_auth, keystone_urls, reorder_pipeline, s3_pipeline_verdict, service_auth,
)

DATA = Path(__file__).parent / "data" / "storage"
RECIPE = (DATA / "proxy-server.recipe-2.30.1.conf").read_text()
DEBIAN = (DATA / "proxy-server.debian-2.30.1.conf").read_text()
KILO = (DATA / "proxy-server.kilo-notes.conf").read_text()


def test_recipe_pipeline_roles_come_from_entry_points():
    conf = PasteConfig(RECIPE)
    pipe = conf.pipeline()
    assert [e.name for e in pipe][:3] == ["catch_errors", "gatekeeper", "healthcheck"]
    roles = {e.name: e.role for e in pipe}
    assert roles["authtoken"] == "authtoken" and roles["s3api"] == "s3api" and roles["s3token"] == "s3token"
    assert roles["keystoneauth"] == "keystoneauth" and pipe[-1].role == "proxy"
    assert conf.filter_of_role("s3token").entry == "egg:swift#s3token"


def test_recipe_order_is_right_for_s3api():
    verdict = s3_pipeline_verdict(PasteConfig(RECIPE), "2.30.1")
    assert verdict.ok, verdict.problems
    assert verdict.middleware == "s3api" and verdict.found == ["authtoken", "s3api", "s3token", "keystoneauth"]


def test_kilo_order_on_swift_2_30_is_wrong_and_says_why():
    text = RECIPE.replace("ratelimit authtoken s3api s3token keystoneauth", "ratelimit s3api s3token authtoken keystoneauth")
    verdict = s3_pipeline_verdict(PasteConfig(text), "2.30.1")
    assert not verdict.ok
    assert verdict.problems == ["order s3api s3token authtoken keystoneauth; s3api on Swift 2.30.1 needs "
                                "authtoken s3api s3token keystoneauth"]


def test_kilo_notes_file_is_right_for_swift3():
    conf = PasteConfig(KILO)
    verdict = s3_pipeline_verdict(conf, "2.3.0")
    assert verdict.middleware == "swift3" and verdict.ok, verdict.problems
    # the s3api order would be wrong for swift3: the rule depends on the middleware, not on a fixed string
    text = KILO.replace("swift3 s3token authtoken keystoneauth", "authtoken swift3 s3token keystoneauth")
    assert s3_pipeline_verdict(PasteConfig(text), "2.3.0").problems == [
        "order authtoken swift3 s3token keystoneauth; swift3 on Swift 2.3.0 needs swift3 s3token authtoken keystoneauth"]


def test_section_names_do_not_matter_entry_points_do():
    text = RECIPE.replace("authtoken s3api s3token keystoneauth", "authtoken s3 s3token keystone") \
        .replace("[filter:s3api]", "[filter:s3]").replace("[filter:keystoneauth]", "[filter:keystone]")
    verdict = s3_pipeline_verdict(PasteConfig(text), "2.30.1")
    assert verdict.ok and verdict.middleware == "s3api"


def test_debian_default_has_no_s3_middleware_in_its_pipeline():
    verdict = s3_pipeline_verdict(PasteConfig(DEBIAN), "2.30.1")
    assert verdict.problems[0].startswith("the pipeline has neither s3api nor swift3 (no S3 API): add s3api")


def test_missing_s3token_and_wrong_s3token_implementation():
    no_token = RECIPE.replace("s3api s3token keystoneauth", "s3api keystoneauth")
    assert s3_pipeline_verdict(PasteConfig(no_token)).problems[0].startswith("missing from the pipeline: s3token (")
    km = RECIPE.replace("use = egg:swift#s3token", "paste.filter_factory = keystonemiddleware.s3_token:filter_factory")
    assert s3_pipeline_verdict(PasteConfig(km), "2.30.1").problems == [
        "s3token is keystonemiddleware.s3_token:filter_factory; s3api needs egg:swift#s3token"]


def test_reorder_keeps_everything_else_in_place():
    names = "catch_errors cache ratelimit s3api s3token authtoken keystoneauth copy proxy-server".split()
    roles = ["", "cache", "", "s3api", "s3token", "authtoken", "keystoneauth", "", "proxy"]
    assert reorder_pipeline(names, roles, ("authtoken", "s3api", "s3token", "keystoneauth")) == \
        "catch_errors cache ratelimit authtoken s3api s3token keystoneauth copy proxy-server".split()
    with pytest.raises(ValueError):
        reorder_pipeline(names[:4], roles[:4], ("authtoken", "s3api", "s3token", "keystoneauth"))


def test_service_auth_and_keystone_urls():
    conf = PasteConfig(RECIPE)
    s3token = conf.options(conf.filter_of_role("s3token"))
    assert has_service_auth(s3token) and service_auth(s3token)["username"] == "swift"
    stripped = {k: v for k, v in s3token.items() if k not in ("auth_url", "username", "password")}
    assert not has_service_auth(stripped)
    auth = conf.options(conf.filter_of_role("authtoken"))
    assert keystone_urls(auth) == {"www_authenticate_uri": "http://127.0.2.1:5000", "auth_url": "http://127.0.2.1:5000"}
    assert auth["delay_auth_decision"] == "True"
    kilo = PasteConfig(KILO)
    kauth = kilo.options(kilo.filter_of_role("authtoken"))
    assert keystone_urls(kauth) == {"auth_uri": "http://198.18.0.11:5000", "identity_uri": "http://198.18.0.11:35357/"}
    assert kauth["signing_dir"] == "/var/cache/swift"


def test_ini_edit_preserves_the_rest():
    ini = IniFile(RECIPE)
    ini.set("pipeline:main", "pipeline", "catch_errors proxy-server")
    ini.set("filter:s3token", "auth_type", "password")          # exists: replaced in place
    ini.set("filter:authtoken", "service_token_roles_required", "true")  # new: appended to the section
    ini.remove("filter:s3api", "s3_acl")
    out = ini.text
    assert out.count("\n") == RECIPE.count("\n"), "one line added, one removed, the rest replaced in place"
    assert "# Order per Swift 2.30" in out, "comments stay"
    again = IniFile(out)
    assert again.get("pipeline:main", "pipeline") == "catch_errors proxy-server"
    assert again.get("filter:authtoken", "service_token_roles_required") == "true"
    assert again.get("filter:authtoken", "include_service_catalog") == "False"
    assert again.get("filter:s3api", "s3_acl") is None and again.get("filter:s3api", "location") == "RegionOne"
    # the new option landed inside [filter:authtoken], before the next section
    lines = out.splitlines()
    assert lines.index("service_token_roles_required = true") < lines.index("[filter:keystoneauth]")


def test_continuation_lines_make_one_pipeline():
    text = "[pipeline:main]\npipeline = catch_errors healthcheck\n    authtoken s3api s3token keystoneauth\n" \
           "    proxy-server\n[filter:s3api]\nuse = egg:swift#s3api\n"
    conf = PasteConfig(text)
    assert conf.pipeline_names() == ["catch_errors", "healthcheck", "authtoken", "s3api", "s3token", "keystoneauth",
                                     "proxy-server"]
    ini = conf.ini
    ini.set("pipeline:main", "pipeline", "catch_errors proxy-server")
    assert ini.text == "[pipeline:main]\npipeline = catch_errors proxy-server\n[filter:s3api]\nuse = egg:swift#s3api\n"


def test_fix_diffs_of_proxy_server_conf_never_show_passwords():
    from stackcheck.fixing import FileEdit

    old = RECIPE
    ini = IniFile(old)
    ini.set("filter:s3token", "password", "n3w-s3cret")
    edit = FileEdit("/etc/swift/proxy-server.conf", old, ini.text)
    diff = edit.diff()
    assert "-password = [REDACTED]" in diff and "+password = [REDACTED]" in diff
    assert "swiftpass" not in diff and "n3w-s3cret" not in diff
    assert "n3w-s3cret" in edit.new, "the file itself gets the real value"
    assert "auth_type = password" in IniFile(edit.new).text  # keys merely mentioning 'password' stay readable
