"""The suite's own HTTP clients verify the cloud's certificates with the cloud's CA, never with verification off."""
from __future__ import annotations

from types import SimpleNamespace

import yaml

from stackcheck.cloudtls import cloud_verify


def lab(tmp_path, cloud: dict, **keys):
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump({"clouds": {"site": {"auth": {"auth_url": "https://keystone.example:5000/v3"},
                                                        **cloud}}}))
    values = {"cloud.cacert": None, "cloud.name": "site", "cloud.clouds_yaml": str(path), **keys}
    return SimpleNamespace(get=values.get)


def test_the_clouds_yaml_cacert_is_used(tmp_path):
    assert cloud_verify(lab(tmp_path, {"cacert": "/etc/site/ca.pem"})) == "/etc/site/ca.pem"


def test_the_inventory_cacert_wins(tmp_path):
    assert cloud_verify(lab(tmp_path, {"cacert": "/etc/site/ca.pem"}, **{"cloud.cacert": "/srv/ca.pem"})) == "/srv/ca.pem"


def test_verify_false_in_clouds_yaml_does_not_turn_verification_off(tmp_path):
    assert cloud_verify(lab(tmp_path, {"verify": False})) is True
