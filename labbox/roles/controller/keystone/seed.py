#!/usr/bin/python3
"""Bring Keystone's contents to the lab's desired state (idempotent; also the restore step of the storage fault
tests): projects, the swift service user, the catalog (object-store and s3 on the storage node's proxy), and the
admin user's EC2 credential, published to /etc/labbox/out/ec2_access and ec2_secret.

    seed.py            converge everything
Runs with Debian's /usr/bin/python3 (openstacksdk 0.101); reads the lab's env (lab.env + secrets.env)."""
import json
import os
import sys
import uuid

import openstack

sys.path.insert(0, "/opt/labbox/lib")  # installed as /usr/local/sbin/labbox-keystone-seed: the lab's shared helpers
from converge import converge  # noqa: E402

ENV = os.environ
KEYSTONE = f"http://{ENV['LAB_IP_CONTROLLER']}:5000"
SWIFT = f"http://{ENV['LAB_IP_STORAGE']}:8080"
REGION = "RegionOne"
OUT = "/etc/labbox/out"
PROJECTS = ("service", "production", "development", "test")
ROLES = ("member", "swiftoperator", "ResellerAdmin")
# service name, type -> interface -> url (the notes: public/internal on /v1/AUTH_..., admin on the bare proxy)
CATALOG = {
    ("swift", "object-store"): {"public": SWIFT + "/v1/AUTH_%(project_id)s",
                                "internal": SWIFT + "/v1/AUTH_%(project_id)s",
                                "admin": SWIFT},
    ("swift_s3", "s3"): {"public": SWIFT, "internal": SWIFT, "admin": SWIFT},
}


def connect():
    return openstack.connect(
        auth_url=KEYSTONE + "/v3", username="admin", password=ENV["KEYSTONE_ADMIN_PASSWORD"], project_name="admin",
        user_domain_name="Default", project_domain_name="Default", region_name=REGION, identity_api_version="3",
        api_timeout=30)


def _password_works(user, password, project):
    try:
        openstack.connect(auth_url=KEYSTONE + "/v3", username=user, password=password, project_name=project,
                          user_domain_name="Default", project_domain_name="Default", region_name=REGION,
                          identity_api_version="3", api_timeout=30).authorize()
        return True
    except Exception:  # noqa: BLE001 - any failure: the password must be set
        return False


def make_contents(conn):
    idn = conn.identity
    dom = idn.find_domain("default")
    projects = {}
    for name in PROJECTS:
        projects[name] = idn.find_project(name, domain_id=dom.id) or idn.create_project(
            name=name, domain_id=dom.id, description=f"labbox {name} project")
    roles = {r.name: r for r in idn.roles()}
    for name in ROLES:
        if name not in roles:
            roles[name] = idn.create_role(name=name)
    admin_role = roles["admin"]
    swift_user = idn.find_user("swift", domain_id=dom.id)
    if swift_user is None:
        swift_user = idn.create_user(name="swift", password=ENV["SWIFT_SERVICE_PASSWORD"], domain_id=dom.id,
                                     default_project_id=projects["service"].id)
    elif not _password_works("swift", ENV["SWIFT_SERVICE_PASSWORD"], "service"):
        # only when it changed: a password update revokes the user's tokens, and Swift 2.30's s3token keeps
        # using its revoked service token (every S3 request then fails until the proxy restarts)
        idn.update_user(swift_user, password=ENV["SWIFT_SERVICE_PASSWORD"])
    # admin on the service project: Keystone 22's /v3/s3tokens policy (service_or_admin) and authtoken need it
    idn.assign_project_role_to_user(projects["service"], swift_user, admin_role)
    admin_user = idn.find_user("admin", domain_id=dom.id)
    for name in ("production", "development", "test"):
        idn.assign_project_role_to_user(projects[name], admin_user, admin_role)

    services = list(idn.services())
    for (name, stype), wanted in CATALOG.items():
        svc = next((s for s in services if s.type == stype), None)
        if svc is None:
            svc = idn.create_service(name=name, type=stype, description=f"labbox {stype}", is_enabled=True)
        elif not svc.is_enabled:
            idn.update_service(svc, is_enabled=True)
        have = {}
        for ep in idn.endpoints(service_id=svc.id):
            if ep.interface in have or ep.interface not in wanted:
                idn.delete_endpoint(ep)  # duplicates and strays: one endpoint per interface
            else:
                have[ep.interface] = ep
        for iface, url in wanted.items():
            ep = have.get(iface)
            if ep is None:
                idn.create_endpoint(service_id=svc.id, interface=iface, url=url, region_id=REGION, is_enabled=True)
            elif ep.url != url or not ep.is_enabled or ep.region_id != REGION:
                idn.update_endpoint(ep, url=url, is_enabled=True, region_id=REGION)

    # the admin user's EC2 credential on project admin: keep the published one (re-register it if Keystone lost
    # it), or make one and publish it
    admin_project = idn.find_project("admin", domain_id=dom.id)
    published = {}
    if all(os.path.exists(f"{OUT}/{n}") for n in ("ec2_access", "ec2_secret")):
        published = {n: open(f"{OUT}/{n}").read().strip() for n in ("ec2_access", "ec2_secret")}
    creds = [c for c in idn.credentials() if c.type == "ec2" and c.user_id == admin_user.id]
    blobs = [json.loads(c.blob) for c in creds]
    if published and any(b.get("access") == published["ec2_access"] for b in blobs):
        return
    if published:
        blob = {"access": published["ec2_access"], "secret": published["ec2_secret"]}
    else:
        blob = {"access": uuid.uuid4().hex, "secret": uuid.uuid4().hex}
    # the record `openstack ec2 credentials create` makes: type ec2, id = sha256(access) is Keystone's business
    idn.create_credential(type="ec2", user_id=admin_user.id, project_id=admin_project.id, blob=json.dumps(blob))
    os.makedirs(OUT, exist_ok=True)
    for name, value in (("ec2_access", blob["access"]), ("ec2_secret", blob["secret"])):
        fd = os.open(f"{OUT}/{name}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value + "\n")


def main():
    # Keystone answers before its cache and database are warm: a few tries
    converge("seed: keystone contents", lambda: make_contents(connect()), attempts=5, pause=2)


if __name__ == "__main__":
    main()
