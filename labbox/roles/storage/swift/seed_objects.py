#!/usr/bin/python3
"""The S3 checks' fixture, as the notes made it in Horizon: container test_container with object test_obj, in the
admin project's account (whose user's EC2 credential the suite uses). Idempotent. Retries while Keystone or the
proxy are still coming up (bounded)."""
import os
import sys
import time

import swiftclient
from keystoneauth1 import session
from keystoneauth1.identity import v3

CONTENT = b"hello from the labbox storage node: test_obj\n"
env = os.environ
auth = v3.Password(auth_url=f"http://{env['LAB_IP_CONTROLLER']}:5000/v3", username="admin",
                   password=env["KEYSTONE_ADMIN_PASSWORD"], project_name="admin", user_domain_id="default",
                   project_domain_id="default")
deadline = time.time() + 240
while True:
    try:
        sw = swiftclient.Connection(session=session.Session(auth=auth, timeout=15),
                                    os_options={"region_name": "RegionOne"})
        sw.put_container("test_container")
        try:
            _, body = sw.get_object("test_container", "test_obj")
        except swiftclient.ClientException:
            body = None
        if body != CONTENT:
            sw.put_object("test_container", "test_obj", contents=CONTENT, content_type="text/plain")
        print("seed_objects: test_container/test_obj present")
        break
    except Exception as exc:  # noqa: BLE001 - Keystone/proxy not ready yet: retry until the deadline
        if time.time() > deadline:
            sys.exit(f"seed_objects: gave up: {type(exc).__name__}: {exc}")
        time.sleep(2)
