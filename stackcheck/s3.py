"""The `s3` fixture: boto3 clients for the cloud's S3 API (Swift's s3api), with EC2 credentials from the
inventory (cloud.ec2_access / cloud.ec2_secret, references only) or, when it gives none, created in Keystone for
the checking user for the S3 checks and deleted when they end; a created one is marked, so a run killed before
deleting it leaves it to the next run's sweep (stackcheck/traces.py), and a read-only run creates none. Secrets
are never printed: checks see the clients, the endpoint, the region and where the credentials came from."""
from __future__ import annotations

import json
import uuid
import warnings
from dataclasses import dataclass, field

from stackcheck import traces as tr
from stackcheck.cloudtls import cloud_verify
from stackcheck.verdicts import CannotCheck, MissingExpectation
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
    verify: str | bool = True  # the cloud's CA (stackcheck/cloudtls.py), never False

    def client(self, secret: str | None = None):
        """A SigV4 (s3v4) boto3 client; `secret` overrides the secret (the negative check signs with a wrong one)."""
        import boto3
        from botocore.config import Config

        cfg = Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                     connect_timeout=10, read_timeout=30)
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=self.region, aws_access_key_id=self.access,
                            aws_secret_access_key=self.secret if secret is None else secret, config=cfg,
                            verify=self.verify)


def s3_endpoint(lab, conn, no_cloud: str = "") -> tuple[str, str]:
    """(endpoint, where it came from): the catalog's s3 service (public), else the object-store's proxy, else the
    inventory's storage host on swift.port (an S3 client may be pointed at the proxy directly: the checks then
    judge the S3 API there, and the evidence says so). CannotCheck when there is none of the three."""
    why_not_catalog = no_cloud or "no s3 or object-store public endpoint in the catalog"
    if conn is not None:
        try:
            eps = catalog.token_catalog(conn)
        except Exception as exc:  # noqa: BLE001 - the storage host may still be judged; the evidence keeps why
            why_not_catalog = f"the catalog could not be read ({type(exc).__name__}: {' '.join(str(exc).split())[:160]})"
        else:
            region = conn.config.region_name
            for stype in ("s3", "object-store"):
                for ep in eps:
                    if ep.service_type == stype and ep.interface == "public" and (not region or ep.region in ("", region)):
                        return catalog.base_url(ep.url), f"catalog ({stype} public endpoint)"
    storage = lab.hosts("storage")
    if not storage:
        raise CannotCheck(f"cannot check the S3 API: no endpoint to ask: {why_not_catalog}, and no host of the "
                          "inventory has role storage (register the s3 service's public endpoint in Keystone, or "
                          "add the storage group to the inventory)")
    return f"http://{storage[0].address}:{lab.get('swift.port')}", f"inventory (storage host; {why_not_catalog})"


def open_s3(lab, cloud_factory, traces: tr.Traces) -> S3Access:
    """Build the S3 access for the run. `cloud_factory()` returns the openstacksdk Connection or raises
    CannotCheck (MissingExpectation: the inventory names no cloud). Nothing missing is ever "not applicable":
    without an endpoint or credentials the S3 checks are errors that say what to set. Before anything is created,
    the marked credentials that killed runs left are swept (not in a read-only run)."""
    try:
        conn, no_cloud = cloud_factory(), ""
    except CannotCheck as exc:
        # EC2 credentials in the inventory and a storage host are enough for the S3 API itself (S3-3..5)
        conn, no_cloud = None, f"no cloud to read the catalog from ({exc})"
    endpoint, endpoint_source = s3_endpoint(lab, conn, no_cloud)
    if conn is not None:
        traces.sweep_once("EC2 credentials", lambda say: tr.sweep_ec2_credentials(conn, say))
    region = lab.get("s3.region")
    access, secret = lab.secret("cloud.ec2_access"), lab.secret("cloud.ec2_secret")
    if access and secret:
        return S3Access(endpoint, region, "inventory", access, secret, endpoint_source=endpoint_source,
                        verify=cloud_verify(lab))
    if access or secret:
        half = "cloud.ec2_secret" if access else "cloud.ec2_access"
        raise MissingExpectation(half, "the inventory gives one half of the EC2 credential; give both, or neither "
                                       "to have one created for this run")
    if conn is None:
        raise MissingExpectation("cloud.ec2_access", "nor cloud.ec2_secret, and creating an EC2 credential for the "
                                 f"checking user instead needs the cloud: {no_cloud}")
    traces.refuse_write("the S3 checks need an EC2 credential, the inventory gives none (stackcheck.cloud.ec2_access "
                        "/ ec2_secret), and creating one for the checking user is a write",
                        "give the inventory the checking user's EC2 credential (references), which a read-only run "
                        "uses as it is")
    try:
        cred_id, access, secret = create_ec2_credential(conn)
    except Exception as exc:  # noqa: BLE001 - any refusal: say it, and what to set instead
        raise CannotCheck(f"cannot check the S3 API: the inventory gives no EC2 credential (stackcheck.cloud."
                          f"ec2_access/ec2_secret) and creating one for the checking user failed: {type(exc).__name__}"
                          f": {' '.join(str(exc).split())[:200]} (set both keys, or let the user create "
                          "credentials)") from None
    return S3Access(endpoint, region, "created for this run", access, secret, cred_id, endpoint_source,
                    verify=cloud_verify(lab))


def create_ec2_credential(conn) -> tuple[str, str, str]:
    """An EC2 credential for the checking user on its project (the record `openstack ec2 credentials create`
    makes: type ec2, blob {access, secret}), marked as stackcheck's with its creation time (Keystone keeps the
    blob's other keys and ignores them when it authenticates)."""
    access, secret = uuid.uuid4().hex, uuid.uuid4().hex
    blob = {"access": access, "secret": secret, tr.MARKER_KEY: tr.credential_marker()}
    cred = conn.identity.create_credential(type="ec2", user_id=conn.current_user_id,
                                           project_id=conn.current_project_id, blob=json.dumps(blob))
    tr.kill_point("ec2-credential")
    return cred.id, access, secret


def close_s3(access: S3Access | None, cloud_factory) -> None:
    if access is not None and access.credential_id:
        try:
            cloud_factory().identity.delete_credential(access.credential_id, ignore_missing=True)
        except Exception as exc:  # noqa: BLE001 - the end of the run: say it (the id is not secret), do not hide it
            warnings.warn(f"the EC2 credential {access.credential_id} created for this run could not be deleted "
                          f"({type(exc).__name__}: {exc}): a later run sweeps it (it is marked), or delete it with "
                          f"`openstack credential delete {access.credential_id}`", stacklevel=1)


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
