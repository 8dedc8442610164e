"""Reading the Swift proxy node inside a storage check."""
from __future__ import annotations

from stackcheck.probes import paste, swift


def read_proxy_node(transport, lab) -> swift.ProxyNode:
    """The target's proxy configuration, Swift release, listeners, cache dir and service state, read in the check
    itself (a fixture would keep the state from before a --fix, and the re-check must read it anew). Each part is
    judged where a check uses it: what could not be read raises CannotCheck there."""
    return swift.read_proxy_node(transport, lab.get("swift.proxy_conf"), lab.get("swift.cache_dir"),
                                 lab.get("swift.proxy_service"))


def proxy_conf(node: swift.ProxyNode, target) -> paste.PasteConfig:
    """The proxy's paste configuration. A file that is not there is a finding (the proxy's configuration is part
    of every requirement that reads it); one that is there but cannot be read is CannotCheck (from node.paste)."""
    assert not node.conf_missing, (f"{target.name}: {node.conf_path} does not exist (no Swift proxy configuration "
                                   "there; if this site keeps it elsewhere, set stackcheck.swift.proxy_conf)")
    return node.paste
