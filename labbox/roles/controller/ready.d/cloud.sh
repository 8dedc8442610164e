#!/bin/bash
# The cloud's control plane (setup.d/30-cloud.sh): its database and message queue accept connections, every
# service is active, and every API of the catalog answers on its port (uwsgi may be up before its app is: the
# version documents are only served once the app has loaded).
systemctl is-active --quiet mariadb rabbitmq-server placement-api glance-api nova-api nova-conductor \
    nova-scheduler neutron-api neutron-rpc-server cinder-api cinder-scheduler || exit 1
mysqladmin --connect-timeout=5 ping >/dev/null 2>&1 || exit 1
nc -z -w 5 "$LAB_IP" 5672 || exit 1
for url in http://127.0.0.1:8778/ http://127.0.0.1:9292/versions http://127.0.0.1:8774/ http://127.0.0.1:9696/ \
           http://127.0.0.1:8776/; do
    curl -sf --max-time 10 -o /dev/null "$url" || exit 1
done
