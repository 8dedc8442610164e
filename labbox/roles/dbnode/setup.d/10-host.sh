#!/bin/sh
# DB host preparation as in the notes (DBH-1, DBH-2): swap file with its fstab line, the data volume's fstab
# line and the datadir subdirectory on it. Idempotent.
set -eu
. /etc/labbox/lab.env

# DBH-1: the notes' swap file (1G there; 64M here, the lab is small). Activating it is not possible inside
# the lab's containers (swapon is refused there, and /proc/swaps is the machine's), see labbox/hosting.py.
if [ ! -f /swapfile ]; then
    fallocate -l 64M /swapfile
    chmod 600 /swapfile
    mkswap /swapfile >/dev/null
fi
chmod 600 /swapfile
grep -qE '^[[:space:]]*/swapfile[[:space:]]+none[[:space:]]+swap' /etc/fstab || \
    echo "/swapfile none swap defaults 0 0" >> /etc/fstab
swapon /swapfile 2>/dev/null || true   # works on a real host; refused in the lab's containers

# DBH-2: the volume is mounted from outside before boot (outside.sh); here only its fstab line. systemd
# must not try to mount it at boot (there is no udev device for the label in a container), so its mount
# unit is masked: the fstab line stays exactly as the notes write it.
if ! mountpoint -q /var/lib/mysql; then
    echo "10-host.sh: /var/lib/mysql is not a mount point (outside.sh did not mount the data volume)" >&2
    exit 1
fi
grep -qE '^[^#]*[[:space:]]/var/lib/mysql[[:space:]]' /etc/fstab || \
    echo "LABEL=mysqldata /var/lib/mysql ext4 defaults 0 2" >> /etc/fstab
ln -sf /dev/null /etc/systemd/system/var-lib-mysql.mount
systemctl daemon-reload
mkdir -p /var/lib/mysql/mysql_data
chown mysql:mysql /var/lib/mysql /var/lib/mysql/mysql_data
chmod 750 /var/lib/mysql/mysql_data
