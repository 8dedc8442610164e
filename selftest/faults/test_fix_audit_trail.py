"""The audit trail a fix leaves on its target: after `--fix` repairs the Apache MPM (HZN-1's fault, as in
test_openstack.py), the controller's own journal has one `stackcheck` entry naming HZN-1, the fixer, the outcome
and the run id that the run's report carries: what the host's operator finds with `journalctl -t stackcheck`."""
from selftest.faultlib import fault, lab_exec, run_checks

MPM = "test_apache_runs_event_mpm_only[controller]"
EVENT = "a2dismod -q mpm_prefork mpm_worker; a2enmod -q mpm_event; systemctl restart apache2"


def test_a_fix_is_in_the_hosts_journal_with_the_reports_run_id(lab_up):
    with fault("controller", inject="a2dismod -q mpm_event && a2enmod -q mpm_prefork && systemctl restart apache2",
               restore=EVENT):
        fixed = run_checks(f"tests_openstack/test_horizon.py::{MPM}", fix=True)
        assert fixed.outcome(MPM) == "fixed", fixed.output[-3000:]
    run_id = fixed.run["run_id"]
    assert run_id and f"run {run_id}" in fixed.case(MPM)["fix_log"], fixed.case(MPM)["fix_log"]
    entries = [line for line in lab_exec("controller", "journalctl -t stackcheck -o cat --no-pager").stdout.splitlines()
               if f"run_id={run_id}" in line]
    assert len(entries) == 1, entries
    assert entries[0].startswith("fix fixed: ") and "requirements=HZN-1" in entries[0], entries[0]
    assert "fixer=fixes.openstack_horizon.switch_to_event_mpm host=controller" in entries[0], entries[0]
    assert entries[0].endswith("steps=3/3"), entries[0]
