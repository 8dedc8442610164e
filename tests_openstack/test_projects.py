"""OpenStack as a whole, through its APIs (openstacksdk, the inventory's cloud): the three projects of the notes,
their own networks and routers, block storage that accepts the projects' credentials, the long-lived instances.
A catalog that lacks a service a check needs to judge (Neutron for OS-2, Nova for OS-5) is an error naming what to
do, never "not applicable"; where the requirement demands the service itself (OS-4: block storage), the catalog
lacking it is the finding."""
import pytest

from stackcheck.probes import cloudapi
from stackcheck.verdicts import CannotCheck, Finding, need


def projects(cloud, lab):
    wanted = need(lab, "cloud.projects", "the projects the cloud must have")
    found = [p.to_dict() for p in cloud.identity.projects()]
    return [p for p in found if p["name"] in wanted], cloudapi.missing_projects(found, wanted)


@pytest.mark.requirement("OS-1")
@pytest.mark.role("controller")
@pytest.mark.severity("high")
def test_projects_exist(cloud, lab, evidence):
    cloudapi.require_service(cloud, "identity", "projects are Keystone's")
    have, missing = projects(cloud, lab)
    evidence["projects"] = ",".join(sorted(p["name"] for p in have)) or "none"
    assert not missing, f"projects missing in Keystone: {', '.join(missing)} (expected {', '.join(lab.get('cloud.projects'))})"


@pytest.mark.requirement("OS-2")
@pytest.mark.role("controller")
@pytest.mark.severity("medium")
def test_each_project_has_network_and_router(cloud, lab, evidence):
    cloudapi.require_service(cloud, "network", "the projects' networks and routers are Neutron's")
    have, missing = projects(cloud, lab)
    nets = [n.to_dict() for n in cloud.network.networks()]
    routers = [r.to_dict() for r in cloud.network.routers()]
    problems = [f"project {m} does not exist" for m in missing]
    problems += cloudapi.project_network_problems(have, nets, routers)
    evidence["networks"] = len(nets)
    evidence["routers"] = len(routers)
    assert not problems, "; ".join(problems)


@pytest.mark.requirement("OS-4")
@pytest.mark.role("controller")
@pytest.mark.severity("high")
def test_block_storage_answers_with_project_credentials(cloud, lab, evidence):
    if cloudapi.catalog_lacks(cloud, "block-storage"):  # OS-4's own incident: a deleted block-storage endpoint
        raise Finding("the cloud's catalog has no block-storage service: no project can use block storage",
                      remediation="register Cinder's endpoints in Keystone (openstack endpoint create ... "
                                  "block-storage / volumev3) and check that cinder-api answers")
    have, missing = projects(cloud, lab)
    problems = [f"project {m} does not exist" for m in missing]
    unknown = []
    for p in have:
        # the checking user scoped to the project: the Juno failure was Cinder refusing such tokens. Keystone
        # refusing that scope is the checking user's lack of a role there, not Cinder's refusal: an error
        # (a dict: openstacksdk takes a plain string for a project NAME, and Keystone refuses an id used as one)
        conn = cloud.connect_as_project({"id": p["id"], "name": p["name"], "domain_id": p.get("domain_id")})
        try:
            conn.authorize()
        except Exception as exc:  # noqa: BLE001 - no token for the project: cannot check with its credentials
            unknown.append(f"the checking user got no token scoped to project {p['name']} ({type(exc).__name__}: "
                           f"{str(exc)[:120]}): give it a role in {p['name']}")
            continue
        try:
            count = len(list(conn.block_storage.volumes(limit=1)))
            evidence[p["name"]] = f"answers ({count} volume listed)"
        except Exception as exc:  # noqa: BLE001 - any refusal of a project-scoped token is the finding
            problems.append(f"block storage refuses project {p['name']}: {type(exc).__name__}: {str(exc)[:120]}")
    if problems:
        raise Finding("; ".join(problems) + (f" (also could not check: {'; '.join(unknown)})" if unknown else ""),
                      remediation="check cinder-api's [keystone_authtoken] in cinder.conf (its service user, password "
                                  "and auth_url must be Keystone's: the notes' Juno incident) and its log, then "
                                  "restart cinder-api")
    if unknown:
        raise CannotCheck("cannot check block storage with the projects' credentials: " + "; ".join(unknown))


@pytest.mark.requirement("OS-5")
@pytest.mark.role("controller")
@pytest.mark.severity("high")
def test_long_lived_instances_active(cloud, lab, evidence):
    names = need(lab, "cloud.long_lived_instances", "the instances that must stay ACTIVE (OS-5)")
    cloudapi.require_service(cloud, "compute", "instances are Nova's")
    servers = [s.to_dict() for s in cloud.compute.servers(all_projects=True)]
    evidence["instances"] = ",".join(f"{s['name']}:{s['status']}" for s in servers if s["name"] in names) or "none"
    problems = cloudapi.instance_problems(servers, names)
    assert not problems, "; ".join(problems)
