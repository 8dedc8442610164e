#!/bin/bash
# The lab's guest image, made here from Debian packages of this host's image (guest.packages): the cloud kernel
# and an initramfs of busybox-static with guest/init. No download. Nova boots it the way it boots any image with
# a separate kernel and ramdisk (Glance formats aki and ari; a raw machine image with kernel_id and ramdisk_id).
# Writes OUT/{vmlinuz,initrd.gz,disk.raw}; idempotent (rebuilt only when the kernel or init changed).
set -euo pipefail
OUT=${1:-/var/lib/labbox/guest}
HERE=$(dirname "$(readlink -f "$0")")
kernel=$(ls /boot/vmlinuz-*-cloud-amd64 | sort -V | tail -1)
stamp="$(basename "$kernel") $(sha256sum "$HERE/init" | cut -c1-16)"
if [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$stamp" ]; then exit 0; fi
install -d -m 0755 "$OUT"
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
install -d "$tree"/{bin,dev,proc,sys,tmp}
install -m 0755 /bin/busybox "$tree/bin/busybox"
install -m 0755 "$HERE/init" "$tree/init"
(cd "$tree" && find . | busybox cpio -o -H newc 2>/dev/null) | gzip -9 > "$OUT/initrd.gz"
install -m 0644 "$kernel" "$OUT/vmlinuz"
# the machine image: the root disk Nova gives the instance; the guest runs from its initramfs and leaves it alone
truncate -s 1M "$OUT/disk.raw"
echo "$stamp" > "$OUT/.stamp"
