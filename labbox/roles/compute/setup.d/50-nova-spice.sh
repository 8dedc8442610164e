#!/bin/bash
# Compute node's SPICE settings (openstack family; SPC-1, SPC-3): SPICE on with its agent and keymap, VNC off
# (Kilo's [DEFAULT] vnc_enabled and today's [vnc] enabled), the SPICE server listens on this node's address and
# the proxy on the controller reaches the VMs through this node's internal address. Idempotent.
set -euo pipefail
. /etc/labbox/lab.env
N=/etc/nova/nova.conf
[ -f $N ] || { echo "$N missing (nova-compute not installed?)" >&2; exit 1; }
iniset() { python3 /opt/labbox/lib/iniset.py "$@"; }   # FILE SECTION KEY VALUE
iniset $N DEFAULT vnc_enabled False
iniset $N vnc enabled false
iniset $N spice enabled true
iniset $N spice agent_enabled true
iniset $N spice keymap en-us
iniset $N spice server_listen "$LAB_IP"
iniset $N spice server_proxyclient_address "$LAB_IP"
iniset $N spice html5proxy_base_url "http://$LAB_IP_CONTROLLER:6082/spice_auto.html"
systemctl try-restart nova-compute >/dev/null 2>&1 || true
