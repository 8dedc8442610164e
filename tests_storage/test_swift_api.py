"""SWF-4: Swift answers its users: an authenticated account HEAD (`swift stat`) with the project's credentials,
through the catalog, as the swift client does it."""
from __future__ import annotations

import pytest

from stackcheck.transport import HostUnreachable

from stackcheck.verdicts import CannotCheck


@pytest.mark.requirement("SWF-4")
@pytest.mark.role("storage")
@pytest.mark.severity("critical")
def test_account_head_with_project_credentials(cloud, evidence):
    endpoint = object_store_endpoint(cloud)
    evidence["endpoint"] = endpoint
    try:
        account = cloud.object_store.get_account_metadata()
    except Exception as exc:  # noqa: BLE001 - the endpoint is known: any failure of `swift stat` on it is the finding
        text = " ".join(str(exc).split())[:400]
        hint = ""
        if (isinstance(exc, HostUnreachable) or "Connection refused" in text or "ConnectFailure" in type(exc).__name__
                or "Unable to establish" in text):  # HostUnreachable: the run's HTTP budget's words for it
            hint = " (the catalog's object-store URL does not reach a proxy: SWF-2)"
        elif "401" in text or "Unauthorized" in text or "503" in text:
            hint = " (the proxy's authtoken cannot validate tokens with Keystone: SWF-3)"
        raise AssertionError(f"account HEAD (swift stat) on {endpoint} as {cloud.config.auth.get('username')} on "
                             f"project {cloud.config.auth.get('project_name')} failed: {type(exc).__name__}: "
                             f"{text}{hint}")
    evidence["containers"] = account.account_container_count
    evidence["objects"] = account.account_object_count
    evidence["bytes"] = account.account_bytes_used
    assert account.account_container_count is not None, (
        f"account HEAD on {endpoint} answered without X-Account-Container-Count: not a Swift account")


def object_store_endpoint(cloud) -> str:
    """The object-store URL `swift stat` would use (the token's catalog). Without one there is no account to ask
    (CannotCheck; SWF-1 reports the missing service); the checking user's own login failing is CannotCheck too."""
    try:
        endpoint = cloud.object_store.get_endpoint()
    except Exception as exc:  # noqa: BLE001 - no token or no catalog entry: nothing of Swift was asked yet
        if "EndpointNotFound" in type(exc).__name__ or "endpoint" in str(exc).lower():
            raise CannotCheck(f"cannot check an account HEAD: the catalog has no object-store endpoint for region "
                              f"{cloud.config.region_name} ({type(exc).__name__}); SWF-1 reports it") from None
        raise CannotCheck(f"cannot check an account HEAD: the checking user's token or catalog could not be had "
                          f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from None
    if not endpoint:
        raise CannotCheck(f"cannot check an account HEAD: the catalog has no object-store endpoint for region "
                          f"{cloud.config.region_name}; SWF-1 reports it")
    return endpoint
