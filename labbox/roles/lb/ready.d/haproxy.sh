#!/bin/bash
# Ready: HAProxy runs and sees every DB node UP (its Galera-aware check passes on each).
. /etc/labbox/lab.env
n=$(wc -w <<<"$LAB_DB_NODES")
up=$(echo "show stat" | socat -t 2 stdio /run/haproxy/admin.sock 2>/dev/null |
     awk -F, '$1=="galera_vip" && $2!="FRONTEND" && $2!="BACKEND" && $18=="UP"' | wc -l)
[ "$up" = "$n" ]
