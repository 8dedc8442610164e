#!/bin/bash
# The external bridges exist in the userspace datapath with their NICs, and br-ex has its static route
d=$(ovs-appctl dpif/show 2>/dev/null) || exit 1
for b in br-int br-ex br-ex2; do echo "$d" | grep -q "^  $b:$" || exit 1; done
echo "$d" | grep -q "^    eth2 " && echo "$d" | grep -q "^    eth3 " || exit 1
ip route show dev br-ex | grep -q "via 198.18.8.1"
