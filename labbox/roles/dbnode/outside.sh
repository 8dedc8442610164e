#!/bin/sh
# DBH-2: the MySQL data directory lives on its own ext4 volume mounted at /var/lib/mysql, as in the notes
# (there /dev/vdb5). Here the volume is a loop-mounted file in the host's state dir, mounted under the host's
# root BEFORE it boots (nspawn binds the root recursively, so the mount is visible inside as a real ext4 mount).
#   outside.sh up|down HOST ROOTDIR STATEDIR
set -eu
action=$1 host=$2 root=$3 state=$4
img="$state/hosts/$host/mysql-volume.ext4"   # in the host's dir: discarded with its overlay
mnt="$root/var/lib/mysql"
# The DB servers speak TLS (stackcheck's db.tls): one lab CA in the state dir (its key never leaves it), and a
# server certificate per node for its own address and the VIP's (a client through the VIP checks the name it
# connected to), handed to the host in /etc/labbox/tls for 20-config.sh. Kept across restarts.
tls() {
    local root=$1 state=$2 ca="$2/tls" dir="$1/etc/labbox/tls"
    . "$root/etc/labbox/lab.env"
    mkdir -p "$ca" "$dir" && chmod 700 "$ca" "$dir"
    if [ ! -f "$ca/ca.pem" ]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=labbox DB CA" \
            -keyout "$ca/ca.key" -out "$ca/ca.pem" 2>/dev/null
        chmod 600 "$ca/ca.key"
    fi
    if [ ! -f "$dir/server.pem" ] || ! cmp -s "$ca/ca.pem" "$dir/ca.pem"; then
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$LAB_HOST" \
            -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
        printf 'subjectAltName=IP:%s,IP:%s,DNS:%s\n' "$LAB_IP" "$LAB_VIP" "$LAB_HOST" > "$dir/san.ext"
        openssl x509 -req -in "$dir/server.csr" -CA "$ca/ca.pem" -CAkey "$ca/ca.key" -CAcreateserial -days 3650 \
            -extfile "$dir/san.ext" -out "$dir/server.pem" 2>/dev/null
        cp "$ca/ca.pem" "$dir/ca.pem"
        rm -f "$dir/server.csr" "$dir/san.ext"
    fi
}

case "$action" in
up)
    mkdir -p "$(dirname "$img")"
    if [ ! -f "$img" ]; then
        truncate -s 768M "$img"                       # sparse: costs only what MariaDB writes
        mkfs.ext4 -q -F -L mysqldata -E lazy_itable_init=1,lazy_journal_init=1 "$img"
    fi
    mkdir -p "$mnt"
    mountpoint -q "$mnt" || mount -o loop "$img" "$mnt"
    tls "$root" "$state"
    ;;
down)
    if mountpoint -q "$mnt" 2>/dev/null; then
        umount "$mnt" 2>/dev/null || umount -l "$mnt"
    fi
    ;;
*)
    echo "usage: $0 up|down HOST ROOTDIR STATEDIR" >&2; exit 2 ;;
esac
