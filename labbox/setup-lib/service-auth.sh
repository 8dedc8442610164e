# Sourced by setup steps: `service_auth FILE SECTION USER` writes the credentials an OpenStack service uses to call
# another one (Keystone password auth as USER of project service, the lab's one region), oslo style, in place.
# Needs lab.env and secrets.env sourced.
service_auth() {
    local f=$1 s=$2 ks="http://$LAB_IP_CONTROLLER:5000"
    python3 /opt/labbox/lib/iniset.py "$f" "$s" auth_type password
    python3 /opt/labbox/lib/iniset.py "$f" "$s" auth_url "$ks"
    python3 /opt/labbox/lib/iniset.py "$f" "$s" project_domain_name Default
    python3 /opt/labbox/lib/iniset.py "$f" "$s" user_domain_name Default
    python3 /opt/labbox/lib/iniset.py "$f" "$s" project_name service
    python3 /opt/labbox/lib/iniset.py "$f" "$s" username "$3"
    python3 /opt/labbox/lib/iniset.py "$f" "$s" password "$CLOUD_SERVICE_PASSWORD"
    python3 /opt/labbox/lib/iniset.py "$f" "$s" region_name RegionOne
}
