#!/bin/bash
# Network node of the notes: OVS br-ex with the external NIC eth2, a second external network br-ex2 with eth3,
# br-int with the agent's int-br-ex* patch ports; br-ex without an address and a static route to the upstream
# gateway; l3_agent.ini and bridge_mappings for two external networks; the OVS and L3 agents serving the
# controller's neutron-server. Idempotent.
# eth2/eth3 are veths inside this host (their peers ext-eth2/ext-eth3 stand for the wires to the outside).
# Every bridge uses datapath_type=netdev: the kernel datapath needs the openvswitch module, which this machine's
# kernel does not have (with it, bridges would show in `ovs-vsctl show` and still not work).
set -euo pipefail
. /etc/labbox/lab.env
UPSTREAM_GW=198.18.8.1        # the upstream gateway behind br-ex (inventory neutron.upstream_gateway)
UPSTREAM_NET=198.18.9.0/24    # what is reached through it

iniset() { python3 /opt/labbox/lib/iniset.py "$@"; }   # FILE SECTION KEY VALUE

# not run here: DHCP and metadata (the lab's guest has no DHCP client nor cloud-init)
systemctl disable --now neutron-dhcp-agent neutron-metadata-agent >/dev/null 2>&1 || true
systemctl enable openvswitch-switch >/dev/null 2>&1 || true
systemctl start openvswitch-switch
for i in $(seq 1 50); do ovs-vsctl --timeout=2 show >/dev/null 2>&1 && break; sleep 0.2; done

for n in 2 3; do
    ip link show eth$n >/dev/null 2>&1 || ip link add eth$n type veth peer name ext-eth$n
    ip link set eth$n up; ip link set ext-eth$n up
done
ovs-vsctl --may-exist add-br br-int -- set bridge br-int datapath_type=netdev
ovs-vsctl --may-exist add-br br-ex -- set bridge br-ex datapath_type=netdev -- --may-exist add-port br-ex eth2
ovs-vsctl --may-exist add-br br-ex2 -- set bridge br-ex2 datapath_type=netdev -- --may-exist add-port br-ex2 eth3
for b in br-ex br-ex2; do   # what neutron-openvswitch-agent creates for each bridge_mappings entry
    ovs-vsctl --may-exist add-port br-int int-$b -- set interface int-$b type=patch options:peer=phy-$b \
        -- --may-exist add-port $b phy-$b -- set interface phy-$b type=patch options:peer=int-$b
done
for b in br-int br-ex br-ex2; do
    for i in $(seq 1 50); do ip link show $b >/dev/null 2>&1 && break; sleep 0.1; done
    ip link set $b up
done
# the notes: br-ex carries no public address (recovered for the VMs); a static route reaches the upstream gateway
ip addr flush dev br-ex
ip route replace $UPSTREAM_NET via $UPSTREAM_GW dev br-ex onlink

# l3 agent: empty values, required for several external networks
L3=/etc/neutron/l3_agent.ini
iniset $L3 DEFAULT gateway_external_network_id ""
iniset $L3 DEFAULT external_network_bridge ""
iniset $L3 DEFAULT interface_driver openvswitch
# the agents join the controller's cloud: the OVS agent (bridge_mappings for both external networks), then L3
. /opt/labbox/lib/neutron-agent.sh physnet1:br-ex,physnet2:br-ex2
systemctl enable neutron-l3-agent >/dev/null 2>&1
systemctl restart neutron-l3-agent
