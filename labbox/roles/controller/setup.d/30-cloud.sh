#!/bin/bash
# The cloud's control plane on the controller (issue 13): RabbitMQ, the services' own MariaDB, Placement, Glance
# (file store), nova-api/conductor/scheduler, neutron-server (ML2 flat + vxlan, OVS driver), then Keystone's
# service users and catalog and the cloud's networks and routers through the APIs (lib/cloud_seed.py; its
# `instances` step runs on compute).
# One worker per service (2-core machine). Idempotent: every step sets a state; databases are made once.
#
# Why a MariaDB of its own on the controller and not the Galera cluster through the VIP (as real sites do): the
# lab's Galera fault tests take that cluster down for minutes (the cloud would go with it and every API check
# would fail with them), and DBK-9 checksums every application table of the cluster (the services' tables
# change all the time: nova's service heartbeats, neutron's agent reports).
set -euo pipefail
. /etc/labbox/lab.env
C=/opt/labbox/cloud
iniset() { python3 /opt/labbox/lib/iniset.py "$@"; }   # FILE SECTION KEY VALUE
KS="http://$LAB_IP:5000"

# --- the services' database: MariaDB on loopback, small ----------------------------------------------------------
install -m 0644 $C/mariadb-labbox.cnf /etc/mysql/mariadb.conf.d/90-labbox-cloud.cnf
systemctl enable mariadb >/dev/null 2>&1
systemctl restart mariadb
for i in $(seq 1 60); do mysqladmin ping >/dev/null 2>&1 && break; sleep 0.5; done
for db in placement glance nova_api nova nova_cell0 neutron cinder; do
    user=${db%%_*}   # nova_api and nova_cell0 belong to nova
    mysql -e "CREATE DATABASE IF NOT EXISTS $db; CREATE USER IF NOT EXISTS '$user'@'localhost';
              ALTER USER '$user'@'localhost' IDENTIFIED BY '$CLOUD_DB_PASSWORD';
              GRANT ALL PRIVILEGES ON $db.* TO '$user'@'localhost';"
done
dburl() { echo "mysql+pymysql://$1:$CLOUD_DB_PASSWORD@localhost/$2"; }

# --- the message queue ---------------------------------------------------------------------------------------------
install -m 0644 $C/rabbitmq-env.conf /etc/rabbitmq/rabbitmq-env.conf
systemctl enable rabbitmq-server >/dev/null 2>&1
systemctl restart rabbitmq-server
rabbitmqctl -q await_startup
# the password on stdin: a random one may begin with "-", which rabbitmqctl would take for an option
rabbitmqctl -q list_users | grep -q '^openstack\s' || printf '%s' "$RABBIT_PASSWORD" | rabbitmqctl -q add_user openstack
printf '%s' "$RABBIT_PASSWORD" | rabbitmqctl -q change_password openstack
rabbitmqctl -q set_permissions openstack '.*' '.*' '.*'
rabbitmqctl -q delete_user guest >/dev/null 2>&1 || true
TRANSPORT="rabbit://openstack:$RABBIT_PASSWORD@$LAB_IP:5672/"

# --- Keystone: service users and the catalog (before any service starts: their authtoken needs them) ----------------
install -m 0700 /opt/labbox/lib/cloud_seed.py /usr/local/sbin/labbox-cloud-seed
/usr/local/sbin/labbox-cloud-seed keystone

authtoken() {  # FILE USER: the [keystone_authtoken] of a service
    iniset $1 keystone_authtoken www_authenticate_uri "$KS"
    iniset $1 keystone_authtoken auth_url "$KS"
    iniset $1 keystone_authtoken memcached_servers 127.0.0.1:11211
    iniset $1 keystone_authtoken auth_type password
    iniset $1 keystone_authtoken project_domain_name Default
    iniset $1 keystone_authtoken user_domain_name Default
    iniset $1 keystone_authtoken project_name service
    iniset $1 keystone_authtoken username $2
    iniset $1 keystone_authtoken password "$CLOUD_SERVICE_PASSWORD"
    iniset $1 keystone_authtoken region_name RegionOne
}
. /opt/labbox/lib/service-auth.sh   # service_auth FILE SECTION USER: credentials to call another service
uwsgi_one_worker() {  # INI: one process, a few threads; say "Connection: close" (recipe F1, see keystone-uwsgi.ini)
    iniset $1 uwsgi processes 1
    iniset $1 uwsgi threads 4
    grep -q '^add-header = Connection: close' $1 || echo 'add-header = Connection: close' >> $1
}
wait_http() {  # URL SERVICE: until it answers (any HTTP status), bounded
    for i in $(seq 1 120); do
        curl -s -o /dev/null --max-time 5 "$1" && return 0
        sleep 0.5
    done
    echo "$2 did not answer on $1 within 60 s" >&2; journalctl -u $2 -n 30 --no-pager >&2; return 1
}

# --- Placement -----------------------------------------------------------------------------------------------------
P=/etc/placement/placement.conf
iniset $P placement_database connection "$(dburl placement placement)"
iniset $P api auth_strategy keystone
authtoken $P placement
uwsgi_one_worker /etc/placement/placement-api-uwsgi.ini
su -s /bin/sh placement -c "placement-manage db sync" >/var/log/placement/labbox-db-sync.log 2>&1 \
    || { tail -20 /var/log/placement/labbox-db-sync.log >&2; exit 1; }

# --- Glance, file store ------------------------------------------------------------------------------------------
G=/etc/glance/glance-api.conf
iniset $G DEFAULT workers 1
iniset $G database connection "$(dburl glance glance)"
authtoken $G glance
iniset $G paste_deploy flavor keystone
iniset $G DEFAULT enabled_backends "file:file"
iniset $G glance_store default_backend file
iniset $G file filesystem_store_datadir /var/lib/glance/images/
install -d -o glance -g glance /var/lib/glance/images
su -s /bin/sh glance -c "glance-manage db_sync" >/var/log/glance/labbox-db-sync.log 2>&1 \
    || { tail -20 /var/log/glance/labbox-db-sync.log >&2; exit 1; }

# --- Nova: API, conductor, scheduler (nova.conf already carries the SPICE settings of 20-openstack.sh) --------------
N=/etc/nova/nova.conf
iniset $N DEFAULT transport_url "$TRANSPORT"
iniset $N DEFAULT osapi_compute_workers 1
iniset $N DEFAULT metadata_workers 1
iniset $N api auth_strategy keystone
iniset $N api_database connection "$(dburl nova nova_api)"
iniset $N database connection "$(dburl nova nova)"
iniset $N conductor workers 1
iniset $N scheduler workers 1
iniset $N scheduler discover_hosts_in_cells_interval 30
iniset $N glance api_servers "http://$LAB_IP:9292"
iniset $N oslo_concurrency lock_path /var/lib/nova/tmp
authtoken $N nova
service_auth $N placement placement
service_auth $N neutron neutron
iniset $N neutron service_metadata_proxy false
uwsgi_one_worker /etc/nova/nova-api-uwsgi.ini
# nova-api under uwsgi is monkey-patched by eventlet, but no hub runs between requests: its RabbitMQ heartbeats
# stop, RabbitMQ closes the idle connection after 60 s ("missed heartbeats from client"), and the next RPC call
# (a console URL: nova-api waits for nova-compute's reply) times out after 60 s. oslo.messaging's answer for WSGI
# services: the heartbeat in a native thread, for nova-api only (a file only it reads; not for the eventlet daemons)
printf '[oslo_messaging_rabbit]\nheartbeat_in_pthread = true\n' > /etc/nova/nova-api.conf
chgrp nova /etc/nova/nova-api.conf; chmod 0640 /etc/nova/nova-api.conf
iniset /etc/nova/nova-api-uwsgi.ini uwsgi env "OS_NOVA_CONFIG_FILES=api-paste.ini;nova.conf;nova-api.conf"
nm() { su -s /bin/sh nova -c "nova-manage $*" >>/var/log/nova/labbox-manage.log 2>&1 \
         || { echo "nova-manage $* failed:" >&2; tail -20 /var/log/nova/labbox-manage.log >&2; return 1; }; }
nm api_db sync
nova-manage cell_v2 list_cells 2>/dev/null | grep -q ' cell0 ' || nm cell_v2 map_cell0
nova-manage cell_v2 list_cells 2>/dev/null | grep -q ' cell1 ' || nm cell_v2 create_cell --name=cell1
nm db sync

# --- neutron-server: ML2 flat (physnet1, physnet2) + vxlan, the OVS mechanism driver, the router plugin -----------
Q=/etc/neutron/neutron.conf
iniset $Q DEFAULT core_plugin ml2
iniset $Q DEFAULT service_plugins router
iniset $Q DEFAULT transport_url "$TRANSPORT"
iniset $Q DEFAULT auth_strategy keystone
iniset $Q DEFAULT api_workers 1
iniset $Q DEFAULT rpc_workers 1
iniset $Q DEFAULT rpc_state_report_workers 1
iniset $Q DEFAULT notify_nova_on_port_status_changes true
iniset $Q DEFAULT notify_nova_on_port_data_changes true
iniset $Q DEFAULT dhcp_agents_per_network 1
iniset $Q database connection "$(dburl neutron neutron)"
authtoken $Q neutron
service_auth $Q nova nova
iniset $Q oslo_concurrency lock_path /var/lib/neutron/tmp
M=/etc/neutron/plugins/ml2/ml2_conf.ini
iniset $M ml2 tenant_network_types vxlan
iniset $M ml2 mechanism_drivers openvswitch
iniset $M ml2 extension_drivers port_security
iniset $M ml2_type_vxlan vni_ranges 1:1000
uwsgi_one_worker /etc/neutron/neutron-api-uwsgi.ini
su -s /bin/sh neutron -c "neutron-db-manage --config-file $Q --config-file $M upgrade heads" \
    >/var/log/neutron/labbox-db-manage.log 2>&1 || { tail -20 /var/log/neutron/labbox-db-manage.log >&2; exit 1; }

# --- Cinder: API and scheduler. No volume service: every backend of Cinder 21 that could run here needs what
# this machine lacks (LVM: device-mapper, CONFIG_BLK_DEV_DM unset; NFS: an NFS client mount inside a container;
# Ceph: a cluster). Listing volumes (OS-4: block storage answers the projects' credentials) needs none. -------------
V=/etc/cinder/cinder.conf
iniset $V DEFAULT transport_url "$TRANSPORT"
iniset $V DEFAULT auth_strategy keystone
iniset $V DEFAULT my_ip "$LAB_IP"
iniset $V DEFAULT osapi_volume_workers 1
iniset $V DEFAULT enabled_backends ""
iniset $V database connection "$(dburl cinder cinder)"
authtoken $V cinder
iniset $V oslo_concurrency lock_path /var/lib/cinder/tmp
uwsgi_one_worker /etc/cinder/cinder-api-uwsgi.ini
su -s /bin/sh cinder -c "cinder-manage db sync" >/var/log/cinder/labbox-db-sync.log 2>&1 \
    || { tail -20 /var/log/cinder/labbox-db-sync.log >&2; exit 1; }

# --- start them, each answering before the cloud is made through them -------------------------------------------
# (nova-spicehtml5proxy too: started by 20-openstack.sh before nova.conf named its database, it would look for
# the consoles' tokens in a SQLite file that has none, and every console URL would be refused)
SERVICES="placement-api glance-api nova-api nova-conductor nova-scheduler nova-spicehtml5proxy neutron-api
 neutron-rpc-server cinder-api cinder-scheduler"
systemctl enable $SERVICES >/dev/null 2>&1
systemctl restart $SERVICES
# not run here: the metadata API (no instance asks for it: the lab's image has no cloud-init)
systemctl disable --now nova-api-metadata >/dev/null 2>&1 || true
wait_http http://127.0.0.1:8778/ placement-api
wait_http http://127.0.0.1:9292/ glance-api
wait_http http://127.0.0.1:8774/ nova-api
wait_http http://127.0.0.1:9696/ neutron-api
wait_http http://127.0.0.1:8776/ cinder-api

# --- the cloud as the notes leave it, through the APIs ------------------------------------------------------------
/usr/local/sbin/labbox-cloud-seed cloud
