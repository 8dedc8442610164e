#!/bin/bash
# Keystone 22 (Zed) on the controller: SQLite + fernet, served by uwsgi on :5000 under systemd, memcached for its
# cache; then the lab's Keystone contents (projects, swift service user, catalog, admin's EC2 credential:
# keystone/seed.py). Idempotent: a second run only converges. Recipe: shared/recipes/swift-keystone.
set -euo pipefail
K=/opt/labbox/keystone
LOG=/var/log/keystone/labbox-manage.log
km() {  # keystone-manage prints eventlet noise at exit (recipe F8): keep it in a log, show it on failure
    keystone-manage --config-file /etc/keystone/keystone.conf "$@" >>$LOG 2>&1 || {
        echo "keystone-manage $1 failed:" >&2; tail -n 30 $LOG >&2; return 1; }
}

getent group keystone >/dev/null || addgroup --system --quiet keystone
getent passwd keystone >/dev/null || adduser --system --quiet --ingroup keystone --home /var/lib/keystone \
    --no-create-home --shell /usr/sbin/nologin keystone
install -d -o keystone -g keystone -m 0750 /var/lib/keystone /var/log/keystone
install -d -o root -g keystone -m 0750 /etc/keystone
install -m 0640 -o root -g keystone $K/keystone.conf /etc/keystone/keystone.conf
install -m 0644 $K/keystone-uwsgi.ini /etc/keystone/keystone-uwsgi.ini
install -m 0644 $K/keystone.service /etc/systemd/system/keystone.service
systemctl enable --now memcached >/dev/null 2>&1

if [ ! -f /var/lib/keystone/keystone.db ]; then
    # db_sync and the key repositories are independent: in parallel (recipe: 8-12 s sequential)
    ( km fernet_setup --keystone-user keystone --keystone-group keystone &&
      km credential_setup --keystone-user keystone --keystone-group keystone ) &
    keys=$!
    km db_sync
    wait $keys
fi
# bootstrap is idempotent: admin user/project/role, the identity service and its endpoints
OS_BOOTSTRAP_PASSWORD="$KEYSTONE_ADMIN_PASSWORD" km bootstrap \
    --bootstrap-username admin --bootstrap-project-name admin --bootstrap-role-name admin \
    --bootstrap-service-name keystone --bootstrap-region-id RegionOne \
    --bootstrap-admin-url "http://$LAB_IP:5000/v3" --bootstrap-internal-url "http://$LAB_IP:5000/v3" \
    --bootstrap-public-url "http://$LAB_IP:5000/v3"
chown -R keystone:keystone /var/lib/keystone /var/log/keystone
ls /etc/keystone/fernet-keys/0 /etc/keystone/credential-keys/0 >/dev/null

systemctl daemon-reload
systemctl enable keystone >/dev/null 2>&1
systemctl restart keystone
for i in $(seq 1 120); do
    curl -sf -o /dev/null http://127.0.0.1:5000/v3 && break
    [ "$i" = 120 ] && { echo "keystone did not answer on :5000 within 60 s" >&2; journalctl -u keystone -n 30 >&2; exit 1; }
    sleep 0.5
done

# an operator's credentials file on the controller (the storage fault tests use it, as an operator would)
umask 077
cat > /root/admin-openrc <<OPENRC
export OS_AUTH_URL=http://$LAB_IP:5000/v3
export OS_IDENTITY_API_VERSION=3
export OS_USERNAME=admin
export OS_PASSWORD='$KEYSTONE_ADMIN_PASSWORD'
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=RegionOne
OPENRC
install -m 0700 $K/seed.py /usr/local/sbin/labbox-keystone-seed
/usr/local/sbin/labbox-keystone-seed
