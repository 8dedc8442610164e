"""HOST-6: the notes' host preparation: NetworkManager and firewalld stopped and disabled, the network service
enabled, the iptables service enabled and running (modern equivalents accepted, see probes/services.py)."""
from __future__ import annotations

import pytest

from stackcheck.probes import services
from stackcheck.verdicts import Finding

pytestmark = [pytest.mark.role("compute")]


def service_problems(units: dict[str, services.Unit]) -> list[str]:
    problems = []
    for name in services.UNWANTED:
        u = units.get(name)
        if u and u.exists and (u.running or u.is_enabled):
            problems.append(f"{name} is {u.active} and {u.enabled} (expected stopped and disabled)")
    net = [units[n] for n in services.NETWORK_SERVICES if n in units and units[n].exists]
    if not any(u.is_enabled for u in net):
        problems.append("no network service is enabled (" + (", ".join(u.describe() for u in net)
                                                             or "none of " + "/".join(services.NETWORK_SERVICES)
                                                             + " installed") + ")")
    fw = [units[n] for n in services.IPTABLES_SERVICES if n in units and units[n].exists]
    if not fw:
        problems.append(f"no iptables service installed ({' / '.join(services.IPTABLES_SERVICES)})")
    elif not any(u.is_enabled and u.running for u in fw):
        problems.append("the iptables service is not enabled and running (" + ", ".join(u.describe() for u in fw) + ")")
    return problems


@pytest.mark.requirement("HOST-6")
@pytest.mark.severity("medium")
def test_network_and_firewall_services_as_prepared_for_packstack(transport, evidence):
    names = services.UNWANTED + services.NETWORK_SERVICES + services.IPTABLES_SERVICES
    units = services.read(transport, names)
    evidence["services"] = "; ".join(u.describe() for u in units.values())
    problems = service_problems(units)
    if not any(units[n].exists for n in services.IPTABLES_SERVICES if n in units):
        # the fixer enables and starts services; it does not install packages
        raise Finding("; ".join(problems), remediation="install iptables-services (RHEL) or iptables-persistent "
                                                       "(Debian), then run the fix again")
    assert not problems, "; ".join(problems)
