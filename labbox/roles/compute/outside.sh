#!/bin/bash
# Runs on this machine: `outside.sh up HOST ROOTDIR STATEDIR` before the compute host boots.
# nova-compute is Type=notify: it reports "ready" only once it has reached its conductor, and the lab has no
# message bus nor conductor, so its start job would hold the host's boot forever. This drop-in makes systemd
# count it as started when the process runs (it then waits for its conductor, as on a fresh compute node).
set -euo pipefail
action=$1 root=$3
if [ "$action" = up ]; then
  # firewalld is installed (its package enables it) but the notes' host has it disabled: never let it start
  rm -f "$root/etc/systemd/system/multi-user.target.wants/firewalld.service" \
        "$root/etc/systemd/system/dbus-org.fedoraproject.FirewallD1.service"
  install -d "$root/etc/systemd/system/nova-compute.service.d"
  printf '[Service]\nType=simple\n' > "$root/etc/systemd/system/nova-compute.service.d/labbox-no-conductor.conf"
fi
