#!/bin/bash
# HAProxy as the VIP of the notes: TCP, round-robin, port 3306, the DB nodes with weight 1, and a health
# check that judges Galera state (clustercheck-style: wsrep_local_state=4 and wsrep_ready=ON), not only a
# login (LB-3, LB-6). Idempotent: rewrites the files and reloads only when they changed.
set -euo pipefail
. /etc/labbox/lab.env
. /etc/labbox/secrets.env
changed=0
put() {  # put PATH MODE OWNER < content
    local tmp; tmp=$(mktemp)
    cat > "$tmp"
    if ! cmp -s "$tmp" "$1"; then install -m "$2" -o root -g "$3" "$tmp" "$1"; changed=1; fi
    rm -f "$tmp"
}
put /etc/haproxy/galera-check.cnf 0640 haproxy <<EOF2
[client]
user=haproxy_check
password=$HAPROXY_CHECK_PASSWORD
EOF2
put /usr/local/bin/galera-check 0755 root <<'EOF2'
#!/bin/sh
# HAProxy external check: healthy only when the node is Synced (wsrep_local_state=4) and wsrep_ready=ON.
# A node that is up but non-Primary still accepts logins (and answers SELECT @@wsrep_node_name), so a plain
# login check (option mysql-check) would keep routing to it. argv: proxy_addr proxy_port server_addr server_port
out=$(/usr/bin/mariadb --defaults-extra-file=/etc/haproxy/galera-check.cnf --protocol=tcp -h "$3" -P "$4" \
      --connect-timeout=1 -N -B -e "SELECT MAX(IF(VARIABLE_NAME='wsrep_local_state',VARIABLE_VALUE,NULL)),
      MAX(IF(VARIABLE_NAME='wsrep_ready',VARIABLE_VALUE,NULL)) FROM information_schema.GLOBAL_STATUS
      WHERE VARIABLE_NAME IN ('wsrep_local_state','wsrep_ready')" 2>/dev/null) || exit 1
[ "$out" = "$(printf '4\tON')" ]
EOF2
servers=""
for h in $LAB_DB_NODES; do
    ipvar="LAB_IP_${h^^}"
    servers+="    server DBNode${h#dbnode} ${!ipvar}:3306 check weight 1"$'\n'
done
put /etc/haproxy/haproxy.cfg 0644 root <<EOF2
# The database VIP (written by labbox; stackcheck LB-* checks read it)
global
    log /dev/log local0
    maxconn 512
    user haproxy
    group haproxy
    stats socket /run/haproxy/admin.sock mode 660 level admin
    external-check
    insecure-fork-wanted

defaults
    log global
    mode tcp
    option tcplog
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    timeout check 2s
    retries 2
    option redispatch

listen galera_vip
    bind $LAB_VIP:3306
    mode tcp
    balance roundrobin
    option external-check
    external-check path "/usr/bin:/bin"
    external-check command /usr/local/bin/galera-check
    default-server inter 1s fastinter 500ms downinter 1s rise 2 fall 2 on-marked-down shutdown-sessions
${servers}
EOF2
haproxy -c -q -f /etc/haproxy/haproxy.cfg
systemctl enable haproxy >/dev/null 2>&1
if ! systemctl is-active -q haproxy; then
    systemctl start haproxy
elif [ $changed = 1 ]; then
    systemctl reload haproxy
fi
