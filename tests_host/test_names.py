"""HOST-7: /etc/hosts and the hostname are right on every node: the hostname resolves to the node's address."""
from __future__ import annotations

import pytest

from stackcheck.inventory import ROLES
from stackcheck.probes import hosts, sections


@pytest.mark.requirement("HOST-7")
@pytest.mark.role(*ROLES)
@pytest.mark.severity("medium")
def test_hostname_resolves_to_the_node_address(transport, target, evidence):
    s = sections.split(transport.run(hosts.READ_COMMAND).stdout)
    hostname = s.get("hostname", "").strip()
    fqdn = s.get("fqdn", "").strip() or hostname
    entries = hosts.parse_hosts(s.get("hosts", ""))
    first = hosts.first_getent(s.get("getent", ""))
    evidence.update({"hostname": hostname, "fqdn": fqdn, "resolves_to": first or "nothing"})
    expected_name = target.vars.get("stackcheck_hostname")
    problems = []
    if expected_name and expected_name not in (hostname, fqdn):
        problems.append(f"hostname is {hostname} (expected {expected_name})")
    problems += hosts.problems(hostname, fqdn, entries, first, target.address)
    assert not problems, f"{target.name}: " + "; ".join(problems)
