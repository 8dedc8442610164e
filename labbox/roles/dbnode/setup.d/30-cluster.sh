#!/bin/bash
# Start this Galera node with Debian's units, the way the notes do it:
# - the first node of a new cluster is bootstrapped (galera_new_cluster = mariadb.service with
#   --wsrep-new-cluster), and restarted normally once every node has joined (so no node stays in bootstrap
#   mode: DBK-4); that restart runs in the background (systemd-run) because the other nodes join later;
# - every other node (and the first node when a peer is already running, e.g. after `labbox restart`) joins
#   with a normal `systemctl start mariadb` (rsync SST or IST from a peer).
# Idempotent: a running, Synced node is left alone.
set -euo pipefail
. /etc/labbox/lab.env
DATADIR=/var/lib/mysql/mysql_data
NODES=($LAB_DB_NODES)
FIRST=${NODES[0]}

status() {  # one wsrep status value over the unix socket ('' when the server is down)
    mariadb -N -B -e "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='$1'" \
        2>/dev/null || true
}
peer_running() {  # is any other DB node's group communication port answering?
    local ip
    for ip in $LAB_DB_IPS; do
        [ "$ip" = "$LAB_IP" ] && continue
        timeout 1 bash -c "exec 3<>/dev/tcp/$ip/4567" 2>/dev/null && return 0
    done
    return 1
}
wait_synced() {
    local i
    for i in $(seq 1 ${1:-180}); do
        [ "$(status wsrep_local_state_comment)" = Synced ] && [ "$(status wsrep_ready)" = ON ] && return 0
        sleep 1
    done
    echo "30-cluster.sh: $LAB_HOST not Synced after ${1:-180} s" >&2
    journalctl -u mariadb --no-pager -n 30 >&2 || true
    return 1
}
bootstrap() {
    [ -d "$DATADIR/mysql" ] || mariadb-install-db --user=mysql --datadir="$DATADIR" --skip-test-db >/dev/null
    galera_new_cluster
    wait_synced 60
    # leave bootstrap mode once all nodes are in: a normal restart rejoins by IST
    # (only once every other node is Synced too: a joiner counts in wsrep_cluster_size while its SST still
    # runs, and restarting its donor then would abort it)
    cat > /usr/local/sbin/labbox-galera-rejoin <<SH
#!/bin/bash
. /etc/labbox/secrets.env
export MYSQL_PWD="\$DB_ROOT_PASSWORD"
state() { mariadb -N -B \$@ -e "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='wsrep_local_state_comment'" 2>/dev/null; }
all_synced() {
    [ "\$(state)" = Synced ] || return 1
    for ip in $LAB_DB_IPS; do
        [ "\$ip" = "$LAB_IP" ] && continue
        [ "\$(state -h \$ip -u root --connect-timeout=2)" = Synced ] || return 1
    done
}
for i in \$(seq 1 1800); do
    size=\$(mariadb -N -B -e "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='wsrep_cluster_size'" 2>/dev/null)
    [ "\${size:-0}" -ge ${#NODES[@]} ] && all_synced && { sleep 1; exec systemctl restart mariadb; }
    sleep 1
done
SH
    chmod 755 /usr/local/sbin/labbox-galera-rejoin
    systemctl reset-failed labbox-galera-rejoin.service 2>/dev/null || true
    systemd-run --unit=labbox-galera-rejoin --description="leave Galera bootstrap mode once all nodes joined" \
        /usr/local/sbin/labbox-galera-rejoin
}

systemctl enable mariadb >/dev/null 2>&1
if systemctl is-active -q mariadb && [ "$(status wsrep_local_state_comment)" = Synced ]; then
    exit 0
fi
if systemctl is-active -q mariadb; then
    wait_synced 180
    exit 0
fi
if peer_running; then
    systemctl start mariadb
elif [ "$LAB_HOST" = "$FIRST" ] && { [ ! -d "$DATADIR/mysql" ] || grep -q '^safe_to_bootstrap: *1' "$DATADIR/grastate.dat" 2>/dev/null; }; then
    bootstrap
else
    for i in $(seq 1 300); do peer_running && break; sleep 1; done
    systemctl start mariadb
fi
wait_synced 180
