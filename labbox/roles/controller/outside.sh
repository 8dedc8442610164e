#!/bin/sh
# Controller, openstack family: the metering database's own small volume (CEIL-3: its filesystem's usage is
# checked against the threshold, so it must be a filesystem of its own, as the notes' 99%-full disk was), and
# the MongoDB wire-protocol stand-in nx-27017 (PyPI, pure Python on SQLite: Debian 12 has no MongoDB), installed
# once into the state dir's cache and copied into the host's root.   outside.sh up|down HOST ROOTDIR STATEDIR
set -eu
action=$1 host=$2 root=$3 state=$4
img="$state/hosts/$host/metering-volume.ext4"   # in the host's dir: discarded with its overlay
mnt="$root/var/lib/mongodb"
cache="$state/cache/nx-27017"
# the cloud's services (setup.d/30-cloud.sh starts and enables them once configured): Debian's postinsts enabled
# them in the image, and nova-conductor/-scheduler are Type=notify: unconfigured, their start jobs would hold the
# host's boot forever (and the others would restart in a loop until setup configures them)
CLOUD_UNITS="mariadb rabbitmq-server placement-api glance-api nova-api nova-api-metadata nova-conductor
 nova-scheduler neutron-api neutron-rpc-server cinder-api cinder-scheduler"
case "$action" in
up)
    for unit in $CLOUD_UNITS; do
        rm -f "$root"/etc/systemd/system/*.wants/"$unit".service "$root"/etc/systemd/system/*.wants/"$unit".socket
    done
    mkdir -p "$(dirname "$img")"
    if [ ! -f "$img" ]; then
        truncate -s 96M "$img"
        mkfs.ext4 -q -F -L metering -E lazy_itable_init=1,lazy_journal_init=1 "$img"
    fi
    mkdir -p "$mnt"
    mountpoint -q "$mnt" || mount -o loop "$img" "$mnt"
    if [ ! -f "$cache/.complete" ]; then
        rm -rf "$cache"; mkdir -p "$cache"
        # the lab hosts run Debian 12's /usr/bin/python3 (3.11), as this machine does
        if /usr/bin/python3 -m pip install -q --disable-pip-version-check --target "$cache" 'nx-27017==0.8.1'; then
            touch "$cache/.complete"
        else
            echo "nx-27017 could not be installed: the lab runs without a metering database" >&2
        fi
    fi
    if [ -f "$cache/.complete" ] && [ ! -d "$root/opt/nx-27017/nx_27017" ]; then
        mkdir -p "$root/opt/nx-27017" && cp -a "$cache/." "$root/opt/nx-27017/"
    fi
    ;;
down)
    if mountpoint -q "$mnt" 2>/dev/null; then
        umount "$mnt" 2>/dev/null || umount -l "$mnt"
    fi
    ;;
*)
    echo "usage: $0 up|down HOST ROOTDIR STATEDIR" >&2; exit 2 ;;
esac
