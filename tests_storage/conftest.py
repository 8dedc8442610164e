"""The storage checks run in dependency order (pytest would take the modules alphabetically): the proxy node
(its port, its pipeline), then the catalog that points at it, then the Swift and S3 APIs through both. With
--fix, each repair then lets the checks after it see a working path."""
from __future__ import annotations

ORDER = ("test_proxy_node.py", "test_catalog.py", "test_swift_api.py", "test_s3.py")


def pytest_collection_modifyitems(items):
    slots = [i for i, item in enumerate(items) if item.path.parent.name == "tests_storage"]
    ours = sorted((items[i] for i in slots),
                  key=lambda it: ORDER.index(it.path.name) if it.path.name in ORDER else len(ORDER))  # stable
    for slot, item in zip(slots, ours):
        items[slot] = item
