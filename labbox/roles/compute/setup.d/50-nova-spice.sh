#!/bin/bash
# Compute node's SPICE settings (openstack family; SPC-1, SPC-3): SPICE on with its agent and keymap, VNC off
# (Kilo's [DEFAULT] vnc_enabled and today's [vnc] enabled), the SPICE server listens on this node's address and
# the proxy on the controller reaches the VMs through this node's internal address. Idempotent.
set -euo pipefail
. /etc/labbox/lab.env
N=/etc/nova/nova.conf
[ -f $N ] || { echo "$N missing (nova-compute not installed?)" >&2; exit 1; }
iniset() {
python3 - "$@" <<'PY'
import re, sys
path, sec, key, val = sys.argv[1:5]
lines = open(path).read().splitlines()
out, cur, done = [], None, False
for line in lines:
    m = re.match(r"^\[([^\]]+)\]\s*$", line.strip())
    if m:
        if cur == sec and not done:
            while out and not out[-1].strip():
                out.pop()
            out += [f"{key} = {val}", ""]
            done = True
        cur = m.group(1)
        out.append(line)
        continue
    if cur == sec and re.match(rf"^{re.escape(key)}\s*[=:]", line.strip()):
        if not done:
            out.append(f"{key} = {val}")
            done = True
        continue
    out.append(line)
if not done:
    if cur != sec:
        out += ["", f"[{sec}]"]
    out.append(f"{key} = {val}")
open(path, "w").write("\n".join(out) + "\n")
PY
}
iniset $N DEFAULT vnc_enabled False
iniset $N vnc enabled false
iniset $N spice enabled true
iniset $N spice agent_enabled true
iniset $N spice keymap en-us
iniset $N spice server_listen "$LAB_IP"
iniset $N spice server_proxyclient_address "$LAB_IP"
iniset $N spice html5proxy_base_url "http://$LAB_IP_CONTROLLER:6082/spice_auto.html"
systemctl try-restart nova-compute >/dev/null 2>&1 || true
