#!/bin/bash
# Swift 2.30 on the storage node: rings for one device, account/container/object servers, the proxy on :8080
# with authtoken/keystoneauth and s3api/s3token against the controller's Keystone, an RDO-style firewall that
# lets 8080 in, and the S3 fixture (test_container/test_obj). Idempotent. Recipe: shared/recipes/swift-keystone.
set -euo pipefail
S=/opt/labbox/swift
CTRL=$LAB_IP_CONTROLLER

# --- configuration -------------------------------------------------------------------------------------------
install -d -o swift -g swift -m 0755 /etc/swift /srv/node /srv/node/d1 /var/cache/swift
if [ ! -f /etc/swift/swift.conf ]; then   # the hash path prefix/suffix never change once data exists
    sed -e "s/@PREFIX@/$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')/" \
        -e "s/@SUFFIX@/$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')/" $S/swift.conf > /etc/swift/swift.conf
fi
for k in account container object; do
    sed "s/@LAB_IP@/$LAB_IP/" $S/$k-server.conf > /etc/swift/$k-server.conf
done
umask 027
sed -e "s/@CONTROLLER@/$CTRL/g" -e "s/@SWIFT_SERVICE_PASSWORD@/$SWIFT_SERVICE_PASSWORD/g" \
    $S/proxy-server.conf > /etc/swift/proxy-server.conf
umask 022
chown -R root:swift /etc/swift
chmod 0640 /etc/swift/*.conf
[ -f /etc/swift/object.ring.gz ] || /usr/bin/python3 $S/make_rings.py /etc/swift "$LAB_IP"
chown -R swift:swift /srv/node /var/cache/swift

# --- firewall (before the services: 8080 is allowed, the rest rejected) ---------------------------------------
sed "s#@LAB_NET@#$LAB_NET#" $S/iptables.rules > /etc/iptables.rules
iptables-restore < /etc/iptables.rules

# --- services: only what the lab needs (Debian enables every Swift daemon; each costs ~70 MB) --------------------
systemctl enable --now memcached >/dev/null 2>&1
wanted="swift-account swift-container swift-object swift-container-updater swift-proxy"
for unit in $(systemctl list-unit-files 'swift-*' --no-legend | awk '{print $1}' | grep -v '@' | sed 's/\.service$//'); do
    case " $wanted " in
        *" $unit "*) ;;
        *) systemctl disable --now "$unit" >/dev/null 2>&1 || true ;;
    esac
done
for unit in $wanted; do systemctl enable "$unit" >/dev/null 2>&1; done
systemctl restart $wanted
for port in 6200 6201 6202; do
    for i in $(seq 1 60); do curl -sf -o /dev/null "http://$LAB_IP:$port/healthcheck" && break; sleep 0.5; done
done
for i in $(seq 1 60); do curl -sf -o /dev/null http://127.0.0.1:8080/healthcheck && break; sleep 0.5; done
curl -sf -o /dev/null http://127.0.0.1:8080/healthcheck || {
    echo "the proxy does not answer on :8080" >&2; journalctl -u swift-proxy -n 40 --no-pager >&2; exit 1; }

# --- the S3 checks' fixture through Keystone (waits for Keystone, bounded) -----------------------------------
for i in $(seq 1 240); do curl -sf -o /dev/null "http://$CTRL:5000/v3" && break; sleep 1; done
/usr/bin/python3 $S/seed_objects.py
