#!/bin/bash
# libvirt as on the notes' physical host: the OpenStack data network whose bridge is named eth1 (the renamed
# virbr1; NAT), the routed external network for the public block on virbr2, and the control-plane VMs
# (controller, network, storage, auth) defined with autostart. The VMs are not started (they need not boot).
set -euo pipefail
. /opt/labbox/files/public-nic.env.sh
export LIBVIRT_DEFAULT_URI=qemu:///system

# libvirtd needs the libvirt-qemu user and a running virtlogd (shared/recipes/compute-network)
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null || useradd -r -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
# The host's cgroup v1 controllers are mounted read-only inside the nspawn host: libvirt must not try to make a
# cgroup per guest ("Failed to create v1 controller cpu for group: Read-only file system", and Nova's instance goes
# to ERROR). A physical compute node keeps the default; this one lists no controller.
if ! grep -qx 'cgroup_controllers = \[ \]' /etc/libvirt/qemu.conf; then
  echo 'cgroup_controllers = [ ]' >> /etc/libvirt/qemu.conf
  systemctl try-restart libvirtd.service   # running since boot (socket activation): read the setting now
fi
systemctl enable --now virtlogd.socket libvirtd.socket libvirtd-ro.socket >/dev/null 2>&1 || true
systemctl enable libvirtd.service >/dev/null 2>&1 || true
systemctl start virtlogd.service libvirtd.service
for _ in $(seq 100); do virsh -q version >/dev/null 2>&1 && break; sleep 0.2; done
virsh -q version >/dev/null

define_net() {  # NAME XML
  if ! virsh -q net-info "$1" >/dev/null 2>&1; then
    printf '%s\n' "$2" > "/tmp/net-$1.xml"; virsh -q net-define "/tmp/net-$1.xml"; rm -f "/tmp/net-$1.xml"
  fi
  virsh -q net-autostart "$1"
  virsh -q net-info "$1" | grep -Eq '^Active:[[:space:]]+yes' || virsh -q net-start "$1"
}
define_net openstack-data "<network>
  <name>openstack-data</name>
  <forward mode='nat'/>
  <bridge name='$DATA_BRIDGE' stp='on' delay='0'/>
  <ip address='$DATA_NET_IP' netmask='255.255.255.0'>
    <dhcp><range start='198.18.64.100' end='198.18.64.199'/></dhcp>
  </ip>
</network>"
define_net external "<network>
  <name>external</name>
  <forward mode='route'/>
  <bridge name='$EXTERNAL_BRIDGE' stp='on' delay='0'/>
  <dns enable='no'/>
  <ip address='$PUBLIC_GW' netmask='255.255.255.240'/>
</network>"

# KVM when the host gives us /dev/kvm (it does on this machine); plain qemu otherwise
dtype=qemu
[ -c /dev/kvm ] && virsh -q domcapabilities --virttype kvm >/dev/null 2>&1 && dtype=kvm
install -d /var/lib/libvirt/images
mac=10
for vm in controller network storage auth; do
  mac=$((mac + 1))
  if ! virsh -q dominfo "$vm" >/dev/null 2>&1; then
    [ -f /var/lib/libvirt/images/$vm.qcow2 ] || qemu-img create -q -f qcow2 /var/lib/libvirt/images/$vm.qcow2 1G
    cat > /tmp/dom-$vm.xml <<XML
<domain type='$dtype'>
  <name>$vm</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/$vm.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'><source network='openstack-data'/><mac address='52:54:00:64:00:$mac'/><model type='virtio'/></interface>
    <interface type='network'><source network='external'/><model type='virtio'/></interface>
    <graphics type='spice' autoport='yes' listen='127.0.0.1'/>
  </devices>
</domain>
XML
    virsh -q define /tmp/dom-$vm.xml >/dev/null; rm -f /tmp/dom-$vm.xml
  fi
  virsh -q autostart "$vm" >/dev/null
done

# netfilter-persistent (10-firewall) flushes the filter table when it loads; libvirt re-adds its rules on start
iptables -S LIBVIRT_FWI 2>/dev/null | grep -q -- "-o $DATA_BRIDGE" || systemctl restart libvirtd.service
for _ in $(seq 100); do virsh -q version >/dev/null 2>&1 && break; sleep 0.2; done
