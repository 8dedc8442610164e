#!/bin/bash
# The openstack family's services on the controller: the SPICE proxy serves spice_auto.html on 6082, Horizon's
# login page answers, the firewall carries the SPICE rule, the metering database answers (when installed).
systemctl is-active --quiet nova-spicehtml5proxy apache2 || exit 1
curl -sf --max-time 5 -o /dev/null http://127.0.0.1:6082/spice_auto.html || exit 1
curl -sf --max-time 20 -o /dev/null http://127.0.0.1/horizon/auth/login/ || exit 1
iptables -C INPUT -p tcp -m multiport --dports 6082 -m comment --comment "Allow SPICE connections for console access" -j ACCEPT 2>/dev/null || exit 1
[ ! -f /etc/systemd/system/mongod.service ] || systemctl is-active --quiet mongod
