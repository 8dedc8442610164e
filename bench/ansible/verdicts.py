"""Ansible callback of bench_fleet.py: the verdict of every task on every host, written as JSON to $BENCH_VERDICTS
({"TASK|HOST": "passed" | "failed"}), so the bench compares them with stackcheck's and testinfra's."""
import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "verdicts"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.verdicts = {}

    def _record(self, result, verdict):
        self.verdicts[f"{result._task.get_name()}|{result._host.get_name()}"] = verdict

    def v2_runner_on_ok(self, result):
        self._record(result, "passed")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "failed")

    def v2_playbook_on_stats(self, stats):
        with open(os.environ["BENCH_VERDICTS"], "w") as out:
            json.dump(self.verdicts, out)
