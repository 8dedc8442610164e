#!/bin/bash
# The physical host is the compute node (VIRT-4): nova-compute with the libvirt driver joins the controller's
# cloud (its RabbitMQ, Placement, Glance, Neutron), then the long-lived instances are booted here through the
# APIs (lib/cloud_seed.py instances). Runs after the controller is provisioned (labbox/topology.py PHASES).
#
# KVM or QEMU/TCG: /dev/kvm exists on this machine and QEMU starts with it, but a Debian kernel hangs right after
# its decompressor under KVM (every CPU model tried). So the guest image is booted once with -accel kvm: KVM is
# used only when that guest reaches its userspace; otherwise virt_type = qemu (TCG), which boots it in ~3 s.
# The lab's inventory declares which one it runs (host.nova_virt_type), and VIRT-4 checks nova against that.
set -euo pipefail
. /etc/labbox/lab.env
. /etc/labbox/secrets.env
iniset() { python3 /opt/labbox/lib/iniset.py "$@"; }   # FILE SECTION KEY VALUE
GUEST=/var/lib/labbox/guest

/opt/labbox/guest/build.sh "$GUEST"

virt_type=qemu
if [ -c /dev/kvm ] && timeout 15 qemu-system-x86_64 -accel kvm -m 128 -nographic -no-reboot -kernel $GUEST/vmlinuz \
        -initrd $GUEST/initrd.gz -append 'console=ttyS0 quiet labbox_name=kvm-probe' -serial stdio -monitor none \
        -display none 2>/dev/null </dev/null | grep -q -a -m1 'labbox-guest: up'; then
    virt_type=kvm
fi
echo "$virt_type" > /var/lib/labbox/virt_type
echo "nova-compute: virt_type = $virt_type (a KVM guest $([ $virt_type = kvm ] && echo booted || echo did not boot))"

install -d /etc/nova
printf '[DEFAULT]\ncompute_driver = libvirt.LibvirtDriver\n\n[libvirt]\nvirt_type = %s\n' "$virt_type" \
    > /etc/nova/nova-compute.conf
N=/etc/nova/nova.conf
. /opt/labbox/lib/service-auth.sh   # service_auth FILE SECTION USER
iniset $N DEFAULT transport_url "rabbit://openstack:$RABBIT_PASSWORD@$LAB_IP_CONTROLLER:5672/"
iniset $N DEFAULT my_ip "$LAB_IP"
iniset $N api auth_strategy keystone
iniset $N glance api_servers "http://$LAB_IP_CONTROLLER:9292"
iniset $N oslo_concurrency lock_path /var/lib/nova/tmp
service_auth $N placement placement
service_auth $N neutron neutron
chmod 0640 $N; chgrp nova $N
systemctl enable nova-compute.service >/dev/null 2>&1   # (re)started with the SPICE settings by 50-nova-spice.sh
