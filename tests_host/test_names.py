"""HOST-7: /etc/hosts and the hostname are right on every node: the hostname resolves to the node's address."""
from __future__ import annotations

import pytest

from stackcheck.inventory import ROLES
from stackcheck.probes import hosts
from stackcheck.verdicts import Finding


@pytest.mark.requirement("HOST-7")
@pytest.mark.role(*ROLES)
@pytest.mark.severity("medium")
def test_hostname_resolves_to_the_node_address(transport, target, evidence):
    names = hosts.read(transport)  # every read judged: an unreadable /etc/hosts is an error, not an empty file
    entries = hosts.parse_hosts(names.hosts or "")
    evidence.update({"hostname": names.hostname, "fqdn": names.fqdn, "resolves_to": names.first or "nothing"})
    expected_name = target.vars.get("stackcheck_hostname")
    problems = []
    if names.hosts is None:
        problems.append("there is no /etc/hosts")
    problems += hosts.problems(names.hostname, names.fqdn, entries, names.first, target.address)
    if expected_name and expected_name not in (names.hostname, names.fqdn):
        # the fixer maps the hostname in /etc/hosts; renaming a node is left to the operator
        problems.insert(0, f"hostname is {names.hostname} (expected {expected_name})")
        raise Finding(f"{target.name}: " + "; ".join(problems),
                      remediation=f"rename the node: `hostnamectl set-hostname {expected_name}`, then run the fix "
                                  f"again to map it in /etc/hosts")
    assert not problems, f"{target.name}: " + "; ".join(problems)
