"""The state of one run: its inventory (loaded once), its connections, its redactor, and what it recorded."""
from __future__ import annotations

import datetime
import secrets
from pathlib import Path

import pytest

from stackcheck import report as rep
from stackcheck.connections import Connections
from stackcheck.inventory import InventoryError, load

STATE = pytest.StashKey["State"]()
FIX_OPTIONS = ("fix", "fix_data", "fix_access", "fix_rejoin", "fix_recover", "dry_run")


class State:
    def __init__(self, config: pytest.Config):
        self.config = config
        self.inventory_arg = config.getoption("stackcheck_host")
        self._lab = None
        self._connections = None
        self.redact = rep.Redactor()
        self.results: list[rep.CaseResult] = []
        self.report_path: Path | None = None
        self.requirements: list[rep.RequirementResult] = []
        self.sweep_log: list[str] = []  # what a fix run found left by interrupted fix runs, and what it did
        self.fix_refused: dict[str, str] = {}  # host -> why no fix may run there in this run
        # in the report and in every audit entry a fix leaves on a host; xdist workers get the controller's
        self.run_id = getattr(config, "workerinput", {}).get("stackcheck_run_id") or new_run_id()

    @property
    def lab(self):
        if self._lab is None:
            try:
                self._lab = load(self.inventory_arg)
                self.redact = rep.Redactor(self._lab.secrets())
            except InventoryError as exc:
                raise pytest.UsageError(str(exc)) from None
        return self._lab

    @property
    def loaded(self) -> bool:
        return self._lab is not None

    @property
    def connections(self) -> Connections:
        if self._connections is None:
            opt = self.config.getoption
            self._connections = Connections(self.lab, opt("connect_timeout"), opt("probe_timeout"))
        return self._connections

    @property
    def fixing(self) -> bool:
        return any(self.config.getoption(o) for o in FIX_OPTIONS)

    def result_of(self, nodeid: str) -> rep.CaseResult | None:
        return next((r for r in self.results if r.nodeid == nodeid), None)

    def add_secrets(self, *secrets: str) -> None:
        """Secrets made during the run (e.g. EC2 credentials created for it) are redacted like the inventory's."""
        self.redact = rep.Redactor([*self.redact.secrets, *secrets])


def new_run_id() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + f"-{secrets.token_hex(4)}"


def state_of(config: pytest.Config) -> State:
    return config.stash[STATE]
