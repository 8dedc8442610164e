#!/bin/bash
# The long-lived instances of the inventory (OS-5), ACTIVE on this host, booted through the APIs once this
# host's nova-compute serves (lib/cloud_seed.py instances: image, flavor, servers; idempotent).
set -euo pipefail
set -a; . /etc/labbox/lab.env; . /etc/labbox/secrets.env; set +a
systemctl is-active -q nova-compute || systemctl start nova-compute
install -m 0700 /opt/labbox/lib/cloud_seed.py /usr/local/sbin/labbox-cloud-seed
/usr/local/sbin/labbox-cloud-seed instances
