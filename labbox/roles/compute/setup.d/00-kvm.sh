#!/bin/bash
# KVM for libvirt and nova-compute (VIRT-4): this machine has /dev/kvm, but the nspawn host's private /dev
# does not show it. The host may create the node (no device policy applies to it); a tmpfiles.d entry makes it
# come back at every boot, as udev would on a physical host.
set -euo pipefail
getent group kvm >/dev/null || groupadd -r kvm
echo 'c! /dev/kvm 0660 root kvm - 10:232' > /etc/tmpfiles.d/labbox-kvm.conf
[ -c /dev/kvm ] || systemd-tmpfiles --create /etc/tmpfiles.d/labbox-kvm.conf
[ -c /dev/kvm ] || mknod -m 0660 /dev/kvm c 10 232
chgrp kvm /dev/kvm
