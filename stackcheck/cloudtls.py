"""The CA the suite's own HTTP clients (requests, boto3) verify the cloud's certificates with: `cloud.cacert`,
else the `cacert` of the inventory's cloud in clouds.yaml (what openstacksdk uses for the same cloud), else the
system's bundle. Verification is never turned off: a clouds.yaml `verify: false` is not followed here."""
from __future__ import annotations

import functools


def cloud_verify(lab) -> str | bool:
    return _verify(lab.get("cloud.cacert"), lab.get("cloud.name"), lab.get("cloud.clouds_yaml"))


@functools.lru_cache(maxsize=8)
def _verify(cacert, name, clouds_yaml) -> str | bool:
    if cacert:
        return str(cacert)
    if not name:
        return True
    try:
        import openstack.config

        config = openstack.config.OpenStackConfig(config_files=[clouds_yaml] if clouds_yaml else None)
        return config.get_one(cloud=name).config.get("cacert") or True
    except Exception:  # noqa: BLE001 - an unknown cloud is the API checks' error to report; here: the system's CAs
        return True
