"""The VIP pool probe: HAProxy files and `show stat` captured from the lab's lb (HAProxy 2.6), the recipe's
login-check config, the clustercheck style, and Octavia / LBaaS v1 documents as their API references show them."""
import shutil
import subprocess
from pathlib import Path

import pytest

from stackcheck.probes import haproxy
from stackcheck.transport import Result
from stackcheck.verdicts import CannotCheck

DATA = Path(__file__).parent / "data" / "db"
LAB = (DATA / "lb-haproxy.cfg").read_text()
NODES = ["198.18.0.15", "198.18.0.16", "198.18.0.17"]


def test_lab_pool_is_right_and_galera_aware():
    pool = haproxy.vip_pool(haproxy.parse_config(LAB), 3306, "198.18.0.18")
    assert (pool.name, pool.protocol, pool.algorithm, pool.port) == ("galera_vip", "TCP", "ROUND_ROBIN", 3306)
    assert [(m.name, m.address, m.port, m.weight, m.checked) for m in pool.members] == [
        ("DBNode1", "198.18.0.15", 3306, 1, True), ("DBNode2", "198.18.0.16", 3306, 1, True),
        ("DBNode3", "198.18.0.17", 3306, 1, True)]
    assert haproxy.pool_problems(pool, NODES, 3306) == []
    assert haproxy.galera_aware(pool, (DATA / "lb-galera-check.sh").read_text())[0]
    assert not haproxy.galera_aware(pool, "#!/bin/sh\nexec mysql -h $3 -e 'select 1'\n")[0]
    with pytest.raises(CannotCheck, match="its script was not read"):  # not reading it is no finding
        haproxy.galera_aware(pool, None)


def test_recipe_login_check_is_not_galera_aware():
    pool = haproxy.vip_pool(haproxy.parse_config((DATA / "haproxy-mysqlcheck.cfg").read_text()), 3306)
    assert pool.monitor == "mysql-check"
    aware, why = haproxy.galera_aware(pool)
    assert not aware and "only proves a login" in why
    assert haproxy.pool_problems(pool, NODES, 3306) == [
        "members missing: 198.18.0.15, 198.18.0.16, 198.18.0.17",
        "members that are not DB nodes: 127.0.1.11, 127.0.1.12, 127.0.1.13"]


def test_frontend_backend_defaults_and_wrong_settings():
    cfg = haproxy.parse_config("""
defaults
    mode http
    balance leastconn
frontend mysql
    bind *:3306
    default_backend galera
backend galera
    mode tcp
    option httpchk
    server db1 198.18.0.15:3306 check port 9200 weight 2
    server db2 198.18.0.16:3306 check port 9200
    server db3 198.18.0.17:3307 disabled
""")
    pool = haproxy.vip_pool(cfg, 3306)
    assert pool.name == "galera" and pool.protocol == "TCP" and pool.algorithm == "LEAST_CONNECTIONS"
    assert haproxy.pool_problems(pool, NODES, 3306) == [
        "balancing LEAST_CONNECTIONS, expected ROUND_ROBIN", "members missing: 198.18.0.17",
        "member db1 has weight 2, expected 1", "member db3 (198.18.0.17) is disabled",
        "member db3 on port 3307, expected 3306", "health monitor not applied to: db3"]
    aware, why = haproxy.galera_aware(pool)
    assert not aware and "DB port itself" in why  # db3 has no check port: its check hits 3306
    assert haproxy.vip_pool(cfg, 3307) is None


def test_clustercheck_http_check_is_galera_aware():
    pool = haproxy.vip_pool(haproxy.parse_config(
        "listen galera\n bind 198.18.0.18:3306\n mode tcp\n balance roundrobin\n option httpchk\n"
        " server a 198.18.0.15:3306 check port 9200\n"), 3306)
    assert haproxy.galera_aware(pool)[0]


def test_show_stat():
    rows = haproxy.parse_show_stat((DATA / "lb-show-stat.csv").read_text())
    assert haproxy.server_states(rows, "galera_vip") == {"DBNode1": "UP", "DBNode2": "UP", "DBNode3": "UP"}


def test_fixer_edits_keep_a_valid_config(tmp_path):
    bad = (DATA / "haproxy-mysqlcheck.cfg").read_text()
    pool = haproxy.vip_pool(haproxy.parse_config(bad), 3306)
    new = haproxy.with_galera_check(haproxy.rewrite_pool(bad, pool, [(f"DBNode{i}", a, 3306) for i, a in
                                                                     enumerate(NODES, 1)]), pool)
    fixed = haproxy.vip_pool(haproxy.parse_config(new), 3306)
    assert haproxy.pool_problems(fixed, NODES, 3306) == []
    assert haproxy.galera_aware(fixed, haproxy.GALERA_CHECK_SCRIPT)[0]
    assert "listen stats" in new and "mysql-check" not in new
    stripped = [line.strip() for line in new.splitlines()]
    assert stripped.count("external-check") == 1 and stripped.count("insecure-fork-wanted") == 1  # global: once
    if shutil.which("haproxy"):  # the real validator, as the fixer uses it
        path = tmp_path / "haproxy.cfg"
        path.write_text(new.replace("/srv/lab/haproxy/admin.sock", str(tmp_path / "admin.sock")))
        proc = subprocess.run(["haproxy", "-c", "-q", "-f", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    # idempotent: applying the edits again changes nothing
    assert haproxy.with_galera_check(new, fixed) == new
    assert haproxy.rewrite_pool(new, fixed, [(f"DBNode{i}", a, 3306) for i, a in enumerate(NODES, 1)]) == new


# Octavia v2 (api-ref load-balancer v2: "Show Load Balancer details", "Show Listener details", "Show Pool
# details", "List Members", "Show Health Monitor details"), reduced to the fields used
OCTAVIA_LB = {"id": "607226db-27ef-4d41-ae89-f2a800e9c2db", "name": "galera-lb", "vip_address": "198.18.0.18"}
OCTAVIA_LISTENER = {"id": "023f2e34", "protocol": "TCP", "protocol_port": 3306, "default_pool_id": "4029d267"}
OCTAVIA_POOL = {"id": "4029d267", "name": "galera", "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN",
                "healthmonitor_id": "8bbfa0d6"}
OCTAVIA_MEMBERS = [{"id": f"m{i}", "name": f"DBNode{i}", "address": a, "protocol_port": 3306, "weight": 1,
                    "admin_state_up": True} for i, a in enumerate(NODES, 1)]


@pytest.mark.parametrize("monitor, aware", [
    ({"type": "HTTP", "http_method": "GET", "url_path": "/", "delay": 5}, True),  # clustercheck on its own port
    ({"type": "TCP", "delay": 5}, False),
    ({"type": "PING", "delay": 5}, False),
    (None, False),
])
def test_octavia_pool(monitor, aware):
    pool = haproxy.pool_from_octavia(OCTAVIA_LB, OCTAVIA_LISTENER, OCTAVIA_POOL, OCTAVIA_MEMBERS, monitor)
    assert (pool.kind, pool.protocol, pool.algorithm, pool.port, pool.vip) == \
        ("octavia", "TCP", "ROUND_ROBIN", 3306, "198.18.0.18")
    assert haproxy.pool_problems(pool, NODES, 3306) == ([] if monitor else ["no health monitor"])
    assert haproxy.galera_aware(pool)[0] is aware


def test_lbaas_v1_pool_as_in_the_notes():
    # Neutron LBaaS v1 (Kilo) GET /v2.0/lb/vips/{id}, /lb/pools/{id}, /lb/members, /lb/health_monitors/{id}
    vip = {"id": "v1", "name": "galera-vip", "address": "198.18.0.18", "protocol": "TCP", "protocol_port": 3306,
           "pool_id": "p1"}
    pool = {"id": "p1", "name": "galera", "protocol": "TCP", "lb_method": "ROUND_ROBIN", "health_monitors": ["h1"]}
    members = [{"id": f"m{i}", "address": a, "protocol_port": 3306, "weight": 1, "admin_state_up": True,
                "pool_id": "p1"} for i, a in enumerate(NODES, 1)]
    monitors = [{"id": "h1", "type": "TCP", "delay": 5, "timeout": 3, "max_retries": 3}]
    p = haproxy.pool_from_lbaas_v1(vip, pool, members, monitors)
    assert haproxy.pool_problems(p, NODES, 3306) == []
    assert not haproxy.galera_aware(p)[0]  # a TCP monitor only proves the port answers


def test_octavia_member_disabled_as_openstacksdk_reports_it():
    members = [dict(m) for m in OCTAVIA_MEMBERS]
    members[2] = {k: v for k, v in members[2].items() if k != "admin_state_up"} | {"is_admin_state_up": False}
    pool = haproxy.pool_from_octavia(OCTAVIA_LB, OCTAVIA_LISTENER, OCTAVIA_POOL, members, {"type": "HTTP"})
    assert haproxy.pool_problems(pool, NODES, 3306) == [
        "members missing: 198.18.0.17", "member DBNode3 (198.18.0.17) is disabled",
        "health monitor not applied to: DBNode3"]


# --- LB-6's runtime half: HAProxy's server states, read from its stats socket, never assumed -------------------
STAT = (DATA / "lb-show-stat.csv").read_text()
LAB_CFG = haproxy.parse_config(LAB)


def _runner(result: Result):
    return lambda command: result


def test_runtime_states_from_the_lab_socket():
    assert haproxy.stats_sockets(LAB_CFG) == ["UNIX-CONNECT:/run/haproxy/admin.sock"]
    states = haproxy.runtime_states(LAB_CFG, "/etc/haproxy/haproxy.cfg", _runner(Result(0, STAT, "")), "galera_vip")
    assert states == {"DBNode1": "UP", "DBNode2": "UP", "DBNode3": "UP"}


def test_no_stats_socket_is_an_error_saying_what_to_set():
    # the old check found nothing to object to without a stats socket ("(no stats socket)") and passed
    cfg = haproxy.parse_config(LAB.replace("    stats socket /run/haproxy/admin.sock mode 660 level admin\n", ""))
    with pytest.raises(CannotCheck, match="declares no `stats socket`.*add `stats socket /run/haproxy/admin.sock"):
        haproxy.runtime_states(cfg, "/etc/haproxy/haproxy.cfg", _runner(Result(0, STAT, "")), "galera_vip")


def test_stats_socket_denied_to_a_non_root_user_is_an_error():
    # `su nobody` on the lab's lb: the socket is root:haproxy 0660; socat exits 1 and prints this on stderr
    # (the old probe took the empty stdout as "no stats socket" and LB-6 passed)
    denied = Result(1, "", '2026/12/03 09:26:52 socat[7724] E connect(, AF=1 "/run/haproxy/admin.sock", 25): '
                           "Permission denied\n")
    with pytest.raises(CannotCheck, match="permission denied.*run as root.*member of the group that owns "
                                          "/run/haproxy/admin.sock"):
        haproxy.runtime_states(LAB_CFG, "/etc/haproxy/haproxy.cfg", _runner(denied), "galera_vip")


def test_stats_socket_missing_or_proxy_unknown_is_an_error():
    gone = Result(1, "", '2026/12/03 09:26:52 socat[7729] E connect(, AF=1 "/run/haproxy/nope.sock", 24): '
                         "No such file or directory\n")
    with pytest.raises(CannotCheck, match="could not read HAProxy's runtime state .*No such file"):
        haproxy.runtime_states(LAB_CFG, "/etc/haproxy/haproxy.cfg", _runner(gone), "galera_vip")
    with pytest.raises(CannotCheck, match="has no such proxy"):
        haproxy.runtime_states(LAB_CFG, "/etc/haproxy/haproxy.cfg", _runner(Result(0, STAT, "")), "other_vip")
    with pytest.raises(CannotCheck, match="answered `Unknown command"):
        haproxy.runtime_states(LAB_CFG, "/etc/haproxy/haproxy.cfg",
                               _runner(Result(0, "Unknown command. Please enter one of the following commands\n", "")),
                               "galera_vip")


def test_external_check_found_through_its_path():
    cfg = haproxy.parse_config(LAB.replace("external-check command /usr/local/bin/galera-check",
                                           "external-check command galera-check"))
    pool = haproxy.vip_pool(cfg, 3306, "198.18.0.18")
    assert haproxy.check_script_paths(pool) == ["/usr/bin/galera-check", "/bin/galera-check"]


def test_tcp_check_counts_only_when_it_expects_synced():
    base = ("listen galera\n bind *:3306\n mode tcp\n balance roundrobin\n option tcp-check\n{steps}"
            " server a 198.18.0.15:3306 check port 9200\n")
    synced = haproxy.vip_pool(haproxy.parse_config(base.format(
        steps=' tcp-check connect port 9200\n tcp-check send "GET / HTTP/1.0\\r\\n\\r\\n"\n'
              ' tcp-check expect string is\\ synced\n')), 3306)
    assert haproxy.galera_aware(synced)[0]
    # a tcp-check that sends a word and expects nothing judges no state (the old probe counted "Synced" in send)
    talk = haproxy.vip_pool(haproxy.parse_config(base.format(steps=" tcp-check send Synced\n")), 3306)
    assert not haproxy.galera_aware(talk)[0]
