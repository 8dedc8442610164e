#!/bin/bash
# Ready: this node is Primary, Synced and ready, and
# - normally: in a cluster of every DB node, not in bootstrap mode;
# - the bootstrap node while the others have not all joined yet (labbox waits for each provisioning phase,
#   and dbnode2/3 join in the next one): bootstrap mode is fine until then; once every node is in, it is ready
#   only after its background restart in normal mode (setup.d/30-cluster.sh), so `labbox up` ends with no
#   node in bootstrap mode (DBK-4).
. /etc/labbox/lab.env
NODES=($LAB_DB_NODES)
out=$(mariadb -N -B -e "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN
      ('wsrep_cluster_size','wsrep_cluster_status','wsrep_local_state_comment','wsrep_ready')" 2>/dev/null) || exit 1
v() { awk -v k="$1" 'tolower($1)==k {print $2}' <<<"$out"; }
[ "$(v wsrep_cluster_status)" = Primary ] && [ "$(v wsrep_local_state_comment)" = Synced ] &&
    [ "$(v wsrep_ready)" = ON ] || exit 1
pid=$(systemctl show -p MainPID --value mariadb)
[ -n "$pid" ] && [ "$pid" != 0 ] || exit 1
if tr '\0' ' ' < /proc/$pid/cmdline | grep -q -- '--wsrep[-_]new[-_]cluster'; then
    [ "$(v wsrep_cluster_size)" -lt "${#NODES[@]}" ]
else
    [ "$(v wsrep_cluster_size)" = "${#NODES[@]}" ]
fi
