#!/bin/sh
# DBH-2: the MySQL data directory lives on its own ext4 volume mounted at /var/lib/mysql, as in the notes
# (there /dev/vdb5). Here the volume is a loop-mounted file in the host's state dir, mounted under the host's
# root BEFORE it boots (nspawn binds the root recursively, so the mount is visible inside as a real ext4 mount).
#   outside.sh up|down HOST ROOTDIR STATEDIR
set -eu
action=$1 host=$2 root=$3 state=$4
img="$state/hosts/$host/mysql-volume.ext4"   # in the host's dir: discarded with its overlay
mnt="$root/var/lib/mysql"
case "$action" in
up)
    mkdir -p "$(dirname "$img")"
    if [ ! -f "$img" ]; then
        truncate -s 768M "$img"                       # sparse: costs only what MariaDB writes
        mkfs.ext4 -q -F -L mysqldata -E lazy_itable_init=1,lazy_journal_init=1 "$img"
    fi
    mkdir -p "$mnt"
    mountpoint -q "$mnt" || mount -o loop "$img" "$mnt"
    ;;
down)
    if mountpoint -q "$mnt" 2>/dev/null; then
        umount "$mnt" 2>/dev/null || umount -l "$mnt"
    fi
    ;;
*)
    echo "usage: $0 up|down HOST ROOTDIR STATEDIR" >&2; exit 2 ;;
esac
