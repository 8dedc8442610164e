#!/bin/bash
# The physical host is the compute node (VIRT-4): nova-compute with the libvirt driver and KVM. Without a
# controller it waits for its conductor, which is enough for "running"; it is not registered anywhere.
set -euo pipefail
install -d /etc/nova
conf=/etc/nova/nova-compute.conf
if ! grep -q '^virt_type' "$conf" 2>/dev/null; then
  printf '[DEFAULT]\ncompute_driver = libvirt.LibvirtDriver\n\n[libvirt]\nvirt_type = kvm\n' > "$conf"
fi
systemctl enable nova-compute.service
systemctl restart nova-compute.service
