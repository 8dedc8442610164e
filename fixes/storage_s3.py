"""S3-2: the EC2 credential the inventory references is registered in Keystone for the checking user.

When Keystone lost it (deleted by hand, a rebuilt identity database), the inventory still holds the access key and
secret the site's S3 clients use: registering them again for the checking user on its project restores those
clients without handing out new keys. Through openstacksdk, undone by deleting it."""
from __future__ import annotations

import json

from stackcheck.fixing import FixDeclined, fixer
from stackcheck.s3 import ec2_credentials_of_user


@fixer("S3-2", risk="config", checks=["test_ec2_credentials_exist_for_checking_user"])
def register_inventory_ec2_credential(ctx):
    """Register the inventory's EC2 credential (cloud.ec2_access/ec2_secret) for the checking user in Keystone"""
    conn, s3 = ctx.extra.get("cloud"), ctx.extra.get("s3")
    if conn is None or s3 is None:
        raise FixDeclined("no cloud connection or S3 access to register a credential through (set "
                          "stackcheck.cloud.name and the EC2 credential keys)")
    if s3.source != "inventory":
        raise FixDeclined("the EC2 credential created for this run is not listed for the checking user: Keystone "
                          "lost it or lists credentials by another user; nothing in the inventory to restore")
    if any(c["access"] == s3.access for c in ec2_credentials_of_user(conn)):
        return  # registered meanwhile: nothing to change
    user, project = conn.current_user_id, conn.current_project_id
    made: dict = {}

    def register():
        made["cred"] = conn.identity.create_credential(
            type="ec2", user_id=user, project_id=project,
            blob=json.dumps({"access": s3.access, "secret": s3.secret}))

    def unregister():
        if made.get("cred") is not None:
            conn.identity.delete_credential(made["cred"], ignore_missing=True)

    ctx.call(f"register the inventory's EC2 credential for user {conn.config.auth.get('username')} on project "
             f"{project} (type ec2; the key itself is not shown)", register, unregister)
