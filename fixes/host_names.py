"""Fixer of HOST-7: /etc/hosts maps the node's hostname to its address (and to nothing else)."""
from __future__ import annotations

from stackcheck.fixing import fixer
from stackcheck.probes import hosts, sections


@fixer("HOST-7", risk="config", checks=["test_hostname_resolves_to_the_node_address"])
def map_hostname_to_node_address(ctx):
    """Map the hostname to the node's address in /etc/hosts."""
    s = sections.split(ctx.run(hosts.READ_COMMAND).stdout)
    hostname = s.get("hostname", "").strip()
    fqdn = s.get("fqdn", "").strip() or hostname
    text = ctx.read("/etc/hosts") or ""
    ctx.edit("/etc/hosts", hosts.fixed_hosts(text, hostname, fqdn, ctx.target.address))
    wanted = ctx.target.vars.get("stackcheck_hostname")
    if wanted and wanted not in (hostname, fqdn):
        ctx.note(f"the hostname is {hostname}, the inventory says {wanted}: renaming a node is left to the operator")
