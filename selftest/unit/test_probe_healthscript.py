"""LB-6: what a health-check script really checks. The lab's check (captured from lb), the fixer's own, a
clustercheck-style one (Primary and state 4), and the ways a script only talks about Galera state: the old
judgement counted any script containing the word "Synced" as Galera-aware."""
from pathlib import Path

import pytest

from stackcheck.probes import haproxy, healthscript

DATA = Path(__file__).parent / "data" / "db"
LAB_POOL = haproxy.vip_pool(haproxy.parse_config((DATA / "lb-haproxy.cfg").read_text()), 3306, "198.18.0.18")

CLUSTERCHECK_STYLE = """#!/bin/bash
# Percona clustercheck style: HTTP 200 only for a Primary node in state 4 (Synced)
CMD="mysql -nNE --connect-timeout=10"
STATE=($($CMD -e "SHOW GLOBAL STATUS LIKE 'wsrep_%';" | grep -A 1 -E 'wsrep_local_state$|wsrep_cluster_status$' \\
    | sed -n -e '2p' -e '5p' | tr '\\n' ' '))
if [[ ${STATE[1]} == 'Primary' && ${STATE[0]} -eq 4 ]]; then
    echo -en "HTTP/1.1 200 OK\\r\\n\\r\\nNode is synced.\\r\\n"; exit 0
fi
echo -en "HTTP/1.1 503 Service Unavailable\\r\\n\\r\\nNode is not synced.\\r\\n"; exit 1
"""

SQL_COMPARISON = """#!/bin/sh
n=$(mysql -h "$3" -P "$4" -N -B -e "SELECT COUNT(*) FROM information_schema.GLOBAL_STATUS WHERE
   (VARIABLE_NAME = 'wsrep_local_state_comment' AND VARIABLE_VALUE = 'Synced') OR
   (VARIABLE_NAME = 'wsrep_ready' AND VARIABLE_VALUE = 'ON')") || exit 1
[ "$n" -eq 2 ]
"""


@pytest.mark.parametrize("script", [
    (DATA / "lb-galera-check.sh").read_text(),
    haproxy.GALERA_CHECK_SCRIPT,
    CLUSTERCHECK_STYLE,
    SQL_COMPARISON,
], ids=["lab", "fixer", "clustercheck-style", "sql-comparison"])
def test_real_galera_checks_are_aware(script):
    verdict = healthscript.judge(script)
    assert verdict.aware, verdict.why
    assert haproxy.galera_aware(LAB_POOL, script)[0]


# each of these contains "Synced" (and wsrep_local_state / wsrep_ready): the old judgement passed them all
ONLY_TALK = {
    "a comment": ("#!/bin/sh\n# healthy only when the node is Synced (wsrep_local_state=4) and wsrep_ready=ON\n"
                  "exec mysql -h \"$3\" -P \"$4\" -e 'SELECT 1'\n", "does not read wsrep_local_state"),
    "an echo": ("#!/bin/sh\nmysql -h \"$3\" -P \"$4\" -e 'SELECT 1' >/dev/null || exit 1\n"
                "echo \"node $3 is Synced (wsrep_local_state = 4, wsrep_ready = ON)\"\n",
                "does not read wsrep_local_state"),
    "a log line": ("#!/bin/sh\nstate=$(mysql -h \"$3\" -N -e \"SHOW STATUS LIKE 'wsrep_local_state_comment'\") || exit 1\n"
                   "logger \"galera state: $state (want Synced)\"\nexit 0\n", "never compares it with 4 / Synced"),
    "state without readiness": ("#!/bin/sh\ns=$(mysql -h \"$3\" -N -B -e \"SELECT VARIABLE_VALUE FROM "
                                "information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='wsrep_local_state'\") || exit 1\n"
                                "printf 'state %s, Synced is 4\\n' \"$s\"\n[ \"$s\" = 4 ]\n",
                                "not wsrep_ready = ON"),
    "no client at all": ("#!/bin/sh\n# wsrep_local_state = 4 means Synced\nexec nc -z \"$3\" \"$4\"\n",
                         "does not query the DB server"),
}


@pytest.mark.parametrize("name", sorted(ONLY_TALK))
def test_talking_about_synced_is_not_a_check(name):
    script, why = ONLY_TALK[name]
    assert "Synced" in script
    verdict = healthscript.judge(script)
    assert not verdict.aware and why in verdict.why
    aware, message = haproxy.galera_aware(LAB_POOL, script)
    assert not aware and why in message


def test_statements_keep_substitutions_and_drop_comments():
    assert healthscript.statements('a=$(mysql -e "x; y" | grep z)  # note\n[ "$a" = 4 ] && exit 0\n') == [
        'a=$(mysql -e "x; y" | grep z)', '[ "$a" = 4 ]', "exit 0"]
    assert healthscript.statements("echo '#not a comment' # a comment\n") == ["echo '#not a comment'"]
