#!/bin/bash
# The proxy-ARP method of the notes: the public NIC answers ARP for the public block routed to virbr2
# (HOST-2), set now and persisted in sysctl.d; forwarding on (libvirt turns it on too, when a network starts).
set -euo pipefail
. /opt/labbox/files/public-nic.env.sh
cat > /etc/sysctl.d/60-public-nic.conf <<CONF
# The public block is reached by proxy ARP on the public NIC (operations notes: "Opening for Business").
net.ipv4.ip_forward = 1
net.ipv4.conf.$PUBLIC_NIC.proxy_arp = 1
CONF
sysctl -q -p /etc/sysctl.d/60-public-nic.conf
