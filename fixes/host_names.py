"""Fixer of HOST-7: /etc/hosts maps the node's hostname to its address (and to nothing else)."""
from __future__ import annotations

from stackcheck.fixing import FixDeclined, fixer
from stackcheck.probes import hosts


@fixer("HOST-7", risk="config", checks=["test_hostname_resolves_to_the_node_address"])
def map_hostname_to_node_address(ctx):
    """Map the hostname to the node's address in /etc/hosts."""
    names = hosts.read(ctx.transport)  # every read judged, as the check reads it
    wanted = ctx.target.vars.get("stackcheck_hostname")
    if wanted and wanted not in (names.hostname, names.fqdn):
        raise FixDeclined(f"the hostname is {names.hostname}, the inventory says {wanted}: renaming a node is left "
                          f"to the operator (`hostnamectl set-hostname {wanted}`)")
    ctx.edit("/etc/hosts", hosts.fixed_hosts(names.hosts or "", names.hostname, names.fqdn, ctx.target.address))
