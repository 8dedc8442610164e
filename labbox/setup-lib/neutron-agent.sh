#!/bin/bash
# neutron-openvswitch-agent joining the controller's cloud, for the network and compute hosts (sourced by their
# setup.d): RabbitMQ, vxlan tunnels from this host's lab address, every bridge in OVS's userspace datapath (this
# machine's kernel has no openvswitch module), no security-group firewall (noop: the lab's instances carry no
# traffic that a firewall would judge). Usage: `. /opt/labbox/lib/neutron-agent.sh [BRIDGE_MAPPINGS]`.
set -euo pipefail
. /etc/labbox/lab.env
. /etc/labbox/secrets.env
iniset() { python3 /opt/labbox/lib/iniset.py "$@"; }   # FILE SECTION KEY VALUE
Q=/etc/neutron/neutron.conf
iniset $Q DEFAULT transport_url "rabbit://openstack:$RABBIT_PASSWORD@$LAB_IP_CONTROLLER:5672/"
iniset $Q oslo_concurrency lock_path /var/lib/neutron/tmp
chmod 0640 $Q; chgrp neutron $Q
A=/etc/neutron/plugins/ml2/openvswitch_agent.ini
iniset $A ovs local_ip "$LAB_IP"
iniset $A ovs datapath_type netdev
iniset $A ovs bridge_mappings "${1:-}"   # (Debian's default, external:br-ex, would stop it where there is no br-ex)
iniset $A agent tunnel_types vxlan
iniset $A securitygroup firewall_driver noop
systemctl enable openvswitch-switch >/dev/null 2>&1 || true
systemctl start openvswitch-switch
for i in $(seq 1 50); do ovs-vsctl --timeout=2 show >/dev/null 2>&1 && break; sleep 0.2; done
ovs-vsctl --may-exist add-br br-int -- set bridge br-int datapath_type=netdev
systemctl enable neutron-openvswitch-agent >/dev/null 2>&1
systemctl restart neutron-openvswitch-agent
