"""SWF-4: Swift answers its users: an authenticated account HEAD (`swift stat`) with the project's credentials,
through the catalog, as the swift client does it."""
from __future__ import annotations

import pytest


@pytest.mark.requirement("SWF-4")
@pytest.mark.role("storage")
@pytest.mark.severity("critical")
def test_account_head_with_project_credentials(cloud, evidence):
    try:
        endpoint = cloud.object_store.get_endpoint()
        account = cloud.object_store.get_account_metadata()
    except Exception as exc:  # noqa: BLE001 - any failure of `swift stat` is the finding; say which
        text = " ".join(str(exc).split())[:400]
        hint = ""
        if "Connection refused" in text or "ConnectFailure" in type(exc).__name__ or "Unable to establish" in text:
            hint = " (the catalog's object-store URL does not reach a proxy: SWF-2)"
        elif "401" in text or "Unauthorized" in text or "503" in text:
            hint = " (the proxy's authtoken cannot validate tokens with Keystone: SWF-3)"
        raise AssertionError(f"account HEAD (swift stat) as {cloud.config.auth.get('username')} on project "
                    f"{cloud.config.auth.get('project_name')} failed: {type(exc).__name__}: {text}{hint}")
    evidence["endpoint"] = endpoint
    evidence["containers"] = account.account_container_count
    evidence["objects"] = account.account_object_count
    evidence["bytes"] = account.account_bytes_used
    assert account.account_container_count is not None, (
        f"account HEAD on {endpoint} answered without X-Account-Container-Count: not a Swift account")
