#!/bin/bash
# the iptables service ran and the public NIC's rules are loaded
set -e
systemctl is-active -q netfilter-persistent.service
iptables -t raw -S public-nic-in >/dev/null
arptables -L public-arp-in -n >/dev/null
