"""The `s3` fixture: boto3 clients for the cloud's S3 API (Swift's s3api), with EC2 credentials from the
inventory (cloud.ec2_access / cloud.ec2_secret, references only) or, when it gives none, created in Keystone for
the checking user for this run and deleted at the end. Secrets are never printed: checks see the clients, the
endpoint, the region and where the credentials came from."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

from stackcheck.verdicts import NotApplicable
from stackcheck.probes import catalog


@dataclass
class S3Access:
    endpoint: str
    region: str
    source: str        # "inventory" or "created for this run"
    access: str = field(repr=False)
    secret: str = field(repr=False)
    credential_id: str = ""  # Keystone credential id when created here (deleted at teardown)
    endpoint_source: str = ""

    def client(self, secret: str | None = None):
        """A SigV4 (s3v4) boto3 client; `secret` overrides the secret (the negative check signs with a wrong one)."""
        import boto3
        from botocore.config import Config

        cfg = Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                     connect_timeout=10, read_timeout=30)
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=self.region, aws_access_key_id=self.access,
                            aws_secret_access_key=self.secret if secret is None else secret, config=cfg)


def s3_endpoint(lab, conn) -> tuple[str, str]:
    """(endpoint, where it came from): the catalog's s3 service (public), else the object-store's proxy, else the
    inventory's storage host on swift.port."""
    if conn is not None:
        try:
            eps = catalog.token_catalog(conn)
            region = conn.config.region_name
            for stype in ("s3", "object-store"):
                for ep in eps:
                    if ep.service_type == stype and ep.interface == "public" and (not region or ep.region in ("", region)):
                        return catalog.base_url(ep.url), f"catalog ({stype} public endpoint)"
        except Exception:  # noqa: BLE001 - no catalog: fall back to the inventory
            pass
    storage = lab.hosts("storage")
    if not storage:
        raise NotApplicable("not applicable: no S3 endpoint in the catalog and no host has role storage")
    return f"http://{storage[0].address}:{lab.get('swift.port')}", "inventory (storage host)"


def open_s3(lab, cloud_factory) -> S3Access:
    """Build the S3 access for the run. `cloud_factory()` returns the openstacksdk Connection or raises
    NotApplicable."""
    try:
        conn = cloud_factory()
    except NotApplicable:
        conn = None
    endpoint, endpoint_source = s3_endpoint(lab, conn)
    region = lab.get("s3.region")
    access, secret = lab.secret("cloud.ec2_access"), lab.secret("cloud.ec2_secret")
    if access and secret:
        return S3Access(endpoint, region, "inventory", access, secret, endpoint_source=endpoint_source)
    if conn is None:
        raise NotApplicable("not applicable: the inventory gives no EC2 credentials (cloud.ec2_access/ec2_secret)"
                            " and no cloud to create them in")
    cred_id, access, secret = create_ec2_credential(conn)
    return S3Access(endpoint, region, "created for this run", access, secret, cred_id, endpoint_source)


def create_ec2_credential(conn) -> tuple[str, str, str]:
    """An EC2 credential for the checking user on its project (the record `openstack ec2 credentials create`
    makes: type ec2, blob {access, secret})."""
    access, secret = uuid.uuid4().hex, uuid.uuid4().hex
    cred = conn.identity.create_credential(type="ec2", user_id=conn.current_user_id,
                                           project_id=conn.current_project_id,
                                           blob=json.dumps({"access": access, "secret": secret}))
    return cred.id, access, secret


def close_s3(access: S3Access | None, cloud_factory) -> None:
    if access is not None and access.credential_id:
        try:
            cloud_factory().identity.delete_credential(access.credential_id, ignore_missing=True)
        except Exception:  # noqa: BLE001 - best effort at the end of the run; the id is not secret
            pass


def ec2_credentials_of_user(conn) -> list[dict]:
    """The checking user's EC2 credentials in Keystone: [{id, project_id, access}] (secrets dropped)."""
    out = []
    for cred in conn.identity.credentials(user_id=conn.current_user_id):
        if cred.type != "ec2":
            continue
        try:
            blob = json.loads(cred.blob)
        except (TypeError, ValueError):
            blob = {}
        out.append({"id": cred.id, "project_id": cred.project_id, "access": blob.get("access", "")})
    return out
