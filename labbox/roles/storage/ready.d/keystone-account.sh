#!/bin/bash
# The S3 fixture is in the account of the admin project of the Keystone that runs NOW: a controller rebuilt after
# this node was provisioned has new project ids (and revoked the tokens s3token holds), so this node is not ready
# until it is provisioned again (`labbox restart storage`).
exec /usr/bin/python3 - <<'PY'
import os, sys
import swiftclient
from keystoneauth1 import session
from keystoneauth1.identity import v3
env = os.environ
auth = v3.Password(auth_url=f"http://{env['LAB_IP_CONTROLLER']}:5000/v3", username="admin",
                   password=env["KEYSTONE_ADMIN_PASSWORD"], project_name="admin", user_domain_id="default",
                   project_domain_id="default")
try:
    # the local proxy directly, not the catalog's URL: a catalog fault is the checks' business, not readiness
    sess = session.Session(auth=auth, timeout=5)
    sw = swiftclient.Connection(preauthurl=f"http://127.0.0.1:8080/v1/AUTH_{sess.get_project_id()}",
                                preauthtoken=sess.get_token(), retries=0)
    sw.head_object("test_container", "test_obj")
except Exception as exc:
    sys.exit(f"test_container/test_obj not reachable through Keystone: {type(exc).__name__}")
PY
