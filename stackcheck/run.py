"""The state of one run: its inventory (loaded once), its connections, its redactor, and what it recorded."""
from __future__ import annotations

import datetime
import secrets
import time
from pathlib import Path

import pytest

from stackcheck import report as rep
from stackcheck.connections import Connections
from stackcheck.inventory import InventoryError, load
from stackcheck.transport import RunBudget

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
        self.started = time.monotonic()
        self._deadline: Deadline | None = None

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
            # a fix run does not remember refusals: a fixer may start the refused service, and its re-check must
            # see it (a refusal costs nothing to try again); hangs are remembered in every run
            budget = RunBudget(count_refusals=not self.fixing, deadline=self.deadline)
            self._connections = Connections(self.lab, opt("connect_timeout"), opt("probe_timeout"), budget)
        return self._connections

    @property
    def has_connections(self) -> bool:
        return self._connections is not None

    @property
    def deadline(self) -> Deadline:
        """The whole run's deadline: --deadline, else the inventory's stackcheck.deadline."""
        if self._deadline is None:
            seconds = self.config.getoption("deadline") or self.lab.get("deadline")
            self._deadline = Deadline(seconds, self.started)
        return self._deadline

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


class Deadline:
    """A run ends in bounded time: after `seconds` from its start no check starts (each ends *error* with
    `message`) and no probe starts (a probe in flight ends within its own timeout)."""

    def __init__(self, seconds: float, started: float):
        self.seconds, self.started = seconds, started

    def reached(self) -> bool:
        return time.monotonic() - self.started >= self.seconds

    @property
    def message(self) -> str:
        return f"not run: the run's deadline of {self.seconds:g} s was reached (--deadline, stackcheck.deadline)"


def state_of(config: pytest.Config) -> State:
    return config.stash[STATE]
