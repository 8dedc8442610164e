#!/bin/bash
# libvirt answers and both networks are active
set -e
export LIBVIRT_DEFAULT_URI=qemu:///system
for n in openstack-data external; do virsh -q net-info "$n" | grep -Eq '^Active:[[:space:]]+yes'; done
