#!/bin/sh
# HAProxy external check: healthy only when the node is Synced (wsrep_local_state=4) and wsrep_ready=ON.
# A node that is up but non-Primary still accepts logins (and answers SELECT @@wsrep_node_name), so a plain
# login check (option mysql-check) would keep routing to it. argv: proxy_addr proxy_port server_addr server_port
out=$(/usr/bin/mariadb --defaults-extra-file=/etc/haproxy/galera-check.cnf --protocol=tcp -h "$3" -P "$4" \
      --connect-timeout=1 -N -B -e "SELECT MAX(IF(VARIABLE_NAME='wsrep_local_state',VARIABLE_VALUE,NULL)),
      MAX(IF(VARIABLE_NAME='wsrep_ready',VARIABLE_VALUE,NULL)) FROM information_schema.GLOBAL_STATUS
      WHERE VARIABLE_NAME IN ('wsrep_local_state','wsrep_ready')" 2>/dev/null) || exit 1
[ "$out" = "$(printf '4\tON')" ]
