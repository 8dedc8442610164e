"""Reading the Swift proxy node inside a storage check."""
from __future__ import annotations

from stackcheck.probes import swift


def read_proxy_node(transport, lab) -> swift.ProxyNode:
    """The target's proxy configuration, Swift release, listeners, firewall, cache dir and service state, read in
    the check itself (a fixture would keep the state from before a --fix, and the re-check must read it anew)."""
    node = swift.read_proxy_node(transport, lab.get("swift.proxy_conf"), lab.get("swift.cache_dir"),
                                 lab.get("swift.proxy_service"))
    assert not node.conf_error, f"{transport.name}: cannot read {lab.get('swift.proxy_conf')}: {node.conf_error}"
    return node
