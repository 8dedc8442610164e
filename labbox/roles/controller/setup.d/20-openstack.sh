#!/bin/bash
# Controller, openstack family (CEIL, HZN, SPC, NET-4): the real nova-spicehtml5proxy with the notes' SPICE
# settings, Horizon under Apache with the event MPM, the RDO-style firewall with the SPICE rule (persisted the
# Debian way), the notes' Kilo-era Ceilometer settings and its metering database, the ML2 flat networks.
# Idempotent: every step sets a state, none appends.
set -euo pipefail
. /etc/labbox/lab.env
S=/opt/labbox/openstack

iniset() { python3 /opt/labbox/lib/iniset.py "$@"; }   # FILE SECTION KEY VALUE

# --- SPICE console proxy (SPC-1, SPC-2, SPC-5) -------------------------------------------------------------------
N=/etc/nova/nova.conf
iniset $N DEFAULT my_ip "$LAB_IP"
iniset $N DEFAULT vnc_enabled False            # Kilo's switch (the notes: set it explicitly)
iniset $N vnc enabled false                    # today's switch
iniset $N spice enabled true
iniset $N spice agent_enabled true
iniset $N spice keymap en-us                   # Kilo reads it; newer releases ignore it
iniset $N spice html5proxy_host 0.0.0.0
iniset $N spice html5proxy_port 6082
iniset $N spice html5proxy_base_url "http://$LAB_IP:6082/spice_auto.html"
# only the SPICE proxy (the notes: "If novnc is enabled, ensure that is disabled too")
systemctl disable --now nova-novncproxy nova-serialproxy >/dev/null 2>&1 || true
systemctl enable nova-spicehtml5proxy >/dev/null 2>&1
systemctl restart nova-spicehtml5proxy

# --- Horizon under Apache, event MPM (HZN-1, HZN-3) ---------------------------------------------------------------
a2dissite -q default-ssl >/dev/null 2>&1 || true   # enabled by the package without mod_ssl: configtest would fail
# libapache2-mod-php's postinst switched Apache to prefork + mod_php: PHP goes through php-fpm instead (HZN-2)
a2dismod -q php8.2 mpm_prefork mpm_worker >/dev/null 2>&1 || true
a2enmod -q mpm_event proxy_fcgi setenvif >/dev/null
a2enconf -q php8.2-fpm >/dev/null
systemctl enable php8.2-fpm >/dev/null 2>&1
systemctl restart php8.2-fpm
echo '<?php echo "php ok " . PHP_SAPI . "\n"; ?>' > /var/www/html/status.php
echo "ServerName $LAB_HOST" > /etc/apache2/conf-available/servername.conf
a2enconf -q servername >/dev/null
L=/etc/openstack-dashboard/local_settings.py
sed -i "s|^ALLOWED_HOSTS = .*|ALLOWED_HOSTS = ['$LAB_HOST', '$LAB_IP', 'localhost', '127.0.0.1']|" $L
sed -i "s|^OPENSTACK_HOST = .*|OPENSTACK_HOST = \"$LAB_IP\"|" $L
sed -i 's|^OPENSTACK_KEYSTONE_URL = .*|OPENSTACK_KEYSTONE_URL = "http://%s:5000/v3" % OPENSTACK_HOST|' $L
apache2ctl configtest >/dev/null 2>&1 || { apache2ctl configtest; exit 1; }
systemctl enable apache2 >/dev/null 2>&1
systemctl restart apache2

# --- firewall with the SPICE rule before the reject rules, running and persisted (SPC-4) --------------------------
mkdir -p /etc/iptables
sed "s#@LAB_NET@#$LAB_NET#" $S/rules.v4 > /etc/iptables/rules.v4
iptables-restore < /etc/iptables/rules.v4
systemctl enable netfilter-persistent >/dev/null 2>&1 || true

# --- Ceilometer, the notes' Kilo layout (CEIL-1, CEIL-2) ----------------------------------------------------------
# Debian 12's Ceilometer 19 has no storage and no TTL options; the lab carries the Kilo settings of the notes and
# the inventory declares `ceilometer.release: kilo` (the check reads the options of the release it is told or finds).
C=/etc/ceilometer/ceilometer.conf
mkdir -p /etc/ceilometer /var/log/ceilometer
[ -f $C ] || printf '[DEFAULT]\n' > $C
iniset $C database connection mongodb://127.0.0.1:27017/ceilometer
iniset $C database metering_time_to_live 604800   # a week (the notes: "a week or a month")
iniset $C database event_time_to_live 604800
iniset $C alarm record_history False
cat > /etc/logrotate.d/ceilometer <<'EOF'
/var/log/ceilometer/*.log {
    daily
    missingok
    rotate 7
    compress
    delaycompress
    notifempty
    copytruncate
}
EOF

# python3-keystone (without Debian's `keystone` package) ships no logrotate rule for /var/log/keystone
[ -e /etc/logrotate.d/keystone ] || cat > /etc/logrotate.d/keystone <<'EOF'
/var/log/keystone/*.log {
    daily
    missingok
    rotate 7
    compress
    delaycompress
    notifempty
    copytruncate
}
EOF

# the metering database: a MongoDB wire-protocol stand-in (nx-27017 on SQLite, installed by outside.sh; Debian 12
# has no MongoDB) on its own small volume at /var/lib/mongodb, under the real server's unit name
if [ -d /opt/nx-27017/nx_27017 ]; then
    # a python3 with a pymongo that speaks to it (Debian's pymongo 3.11 stops at wire version 9; the stand-in
    # wants 17), as an operator would have in a venv: CEIL-3's data fixer dumps and restores with it (inventory
    # ceilometer.mongo_python), since Debian 12 has no mongodump
    rm -f /usr/lib/python3/dist-packages/labbox-nx-27017.pth
    printf '#!/bin/sh\nPYTHONPATH=/opt/nx-27017 exec /usr/bin/python3 "$@"\n' > /usr/local/bin/python3-pymongo4
    chmod 755 /usr/local/bin/python3-pymongo4
    mkdir -p /var/lib/mongodb/db
    cat > /etc/systemd/system/mongod.service <<'EOF'
[Unit]
Description=Metering database (labbox stand-in for mongod: nx-27017, the MongoDB wire protocol on SQLite)
After=network.target local-fs.target

[Service]
Environment=PYTHONPATH=/opt/nx-27017
ExecStart=/usr/bin/python3 -m nx_27017.nx_27017 --data-dir /var/lib/mongodb/db --host 127.0.0.1 -p 27017
Restart=on-failure

[Install]
WantedBy=multi-user.target
EOF
    systemctl daemon-reload
    systemctl enable mongod >/dev/null 2>&1
    systemctl restart mongod
    # a few samples and the TTL index Kilo's MongoDB driver creates from metering_time_to_live
    PYTHONPATH=/opt/nx-27017 python3 - <<'PY'
import datetime, time
from pymongo import ASCENDING, MongoClient
for i in range(60):
    try:
        db = MongoClient("mongodb://127.0.0.1:27017/", serverSelectionTimeoutMS=1000).ceilometer
        db.command("ping")
        break
    except Exception:
        time.sleep(0.5)
else:
    raise SystemExit("the metering database did not answer on 127.0.0.1:27017")
if db.meter.count_documents({}) == 0:
    now = datetime.datetime.now(datetime.timezone.utc)
    db.meter.insert_many([{"counter_name": "cpu_util", "counter_volume": float(i), "resource_id": f"vm-{i % 3}",
                           "timestamp": now - datetime.timedelta(minutes=i)} for i in range(50)])
db.meter.create_index([("timestamp", ASCENDING)], name="meter_ttl", expireAfterSeconds=604800)
PY
fi

# --- ML2 on the controller (NET-4) ---------------------------------------------------------------------------------
M=/etc/neutron/plugins/ml2/ml2_conf.ini
iniset $M ml2 type_drivers vxlan,flat
iniset $M ml2_type_flat flat_networks physnet1,physnet2
iniset $M ml2_type_vlan network_vlan_ranges physnet1:1000:2999,physnet2:3000:4999
ln -sfn $M /etc/neutron/plugin.ini
# neutron-server itself (its database, message queue, mechanism driver) is 30-cloud.sh's
