#!/bin/bash
# The physical host's firewall, persisted the Debian way (iptables-persistent / netfilter-persistent = the
# notes' "iptables service"): HOST-4 (drop what arrives on the public NIC for anything but the floating range
# and the NIC's own range), HOST-5 (instances may not reach the external bridge's address, hop 0), and the
# ARP filters of HOST-3 through a netfilter-persistent plugin. Idempotent: files are rewritten, rules reloaded.
set -euo pipefail
. /opt/labbox/files/public-nic.env.sh

install -d -m 0755 /etc/iptables
cat > /etc/iptables/rules.v4 <<RULES
# The physical host's own rules (libvirt adds its LIBVIRT_* chains itself when its networks start).
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:public-nic-in - [0:0]
-A PREROUTING -i $PUBLIC_NIC -j public-nic-in
-A public-nic-in -d $NIC_NET -j RETURN
-A public-nic-in -m iprange --dst-range $FLOATING_RANGE -j RETURN
-A public-nic-in -m comment --comment "not for the floating range or the NIC range" -j DROP
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i $EXTERNAL_BRIDGE -s $PUBLIC_BLOCK -d $PUBLIC_GW/32 -m comment --comment "instances may not reach hop 0" -j REJECT --reject-with icmp-host-prohibited
COMMIT
RULES
chmod 0640 /etc/iptables/rules.v4
iptables-restore --test < /etc/iptables/rules.v4

cat > /etc/iptables/arptables.rules <<RULES
*filter
:INPUT ACCEPT
:OUTPUT ACCEPT
:public-arp-in -
:public-arp-out -
-A INPUT -j public-arp-in -i $PUBLIC_NIC --opcode 1
-A OUTPUT -j public-arp-out -o $PUBLIC_NIC --opcode 1
-A public-arp-in -j ACCEPT -d $NIC_IP
-A public-arp-in -j ACCEPT -d $PUBLIC_BLOCK
-A public-arp-in -j DROP
-A public-arp-out -j ACCEPT -s $NIC_IP
-A public-arp-out -j ACCEPT -s $PUBLIC_BLOCK
-A public-arp-out -j DROP
RULES
chmod 0640 /etc/iptables/arptables.rules
install -m 0755 /opt/labbox/files/35-arptables /usr/share/netfilter-persistent/plugins.d/35-arptables
# no IPv6 rules here: keep the ip6tables plugin quiet
[ -f /etc/iptables/rules.v6 ] || printf '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n' > /etc/iptables/rules.v6

# the notes' host preparation: no NetworkManager, no firewalld, the network service and the iptables service
for unit in NetworkManager firewalld; do
  if systemctl cat "$unit.service" >/dev/null 2>&1; then systemctl disable --now "$unit.service"; fi
done
[ -f /etc/network/interfaces ] || printf 'source /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n' > /etc/network/interfaces
systemctl enable networking.service
systemctl enable netfilter-persistent.service
systemctl restart netfilter-persistent.service   # loads rules.v4 and the ARP filters (flushes raw/filter first)
