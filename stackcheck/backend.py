"""A testinfra backend over a stackcheck Transport, so checks keep testinfra's `host` API
(host.file, host.service, host.sysctl, host.socket, host.package, host.iptables ...) while every command goes
over the one fast connection per host that the run keeps open."""
from __future__ import annotations

from typing import Any

import testinfra.host
from testinfra.backend import base

from stackcheck.transport import Transport


class StackcheckBackend(base.BaseBackend):
    NAME = "stackcheck"

    def __init__(self, transport: Transport, **kwargs: Any):
        self.transport = transport
        super().__init__(transport.name, **kwargs)

    def run(self, command: str, *args: str, **kwargs: Any) -> base.CommandResult:
        command = self.get_command(command, *args)
        result = self.transport.run(command)
        return self.result(result.rc, self.encode(command), result.stdout, result.stderr)


def testinfra_host(transport: Transport) -> testinfra.host.Host:
    backend = StackcheckBackend(transport)
    host = testinfra.host.Host(backend)
    backend.set_host(host)
    return host
