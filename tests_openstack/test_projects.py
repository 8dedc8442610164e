"""OpenStack as a whole, through its APIs (openstacksdk, the inventory's cloud): the three projects of the notes,
their own networks and routers, block storage that accepts the projects' credentials, the long-lived instances.
A cloud whose catalog lacks a service makes the checks that need it not applicable, with that reason."""
import pytest

from stackcheck.probes import cloudapi


def need(cloud, service_type, what):
    try:
        cloudapi.require_service(cloud, service_type, what)
    except cloudapi.ServiceMissing as exc:
        pytest.skip(str(exc))


def projects(cloud, lab):
    wanted = lab.get("cloud.projects")
    found = [p.to_dict() for p in cloud.identity.projects()]
    return [p for p in found if p["name"] in wanted], cloudapi.missing_projects(found, wanted)


@pytest.mark.requirement("OS-1")
@pytest.mark.role("controller")
@pytest.mark.severity("high")
def test_projects_exist(cloud, lab, evidence):
    need(cloud, "identity", "projects are Keystone's")
    have, missing = projects(cloud, lab)
    evidence["projects"] = ",".join(sorted(p["name"] for p in have)) or "none"
    assert not missing, f"projects missing in Keystone: {', '.join(missing)} (expected {', '.join(lab.get('cloud.projects'))})"


@pytest.mark.requirement("OS-2")
@pytest.mark.role("controller")
@pytest.mark.severity("medium")
def test_each_project_has_network_and_router(cloud, lab, evidence):
    need(cloud, "network", "the projects' networks and routers are Neutron's")
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
    need(cloud, "block-storage", "block storage is Cinder's")
    have, missing = projects(cloud, lab)
    problems = [f"project {m} does not exist" for m in missing]
    for p in have:
        try:  # the checking user scoped to the project: the Juno failure was Cinder refusing such tokens
            conn = cloud.connect_as_project(p["id"])
            count = len(list(conn.block_storage.volumes(limit=1)))
            evidence[p["name"]] = f"answers ({count} volume listed)"
        except Exception as exc:  # noqa: BLE001 - any refusal is the finding
            problems.append(f"block storage refuses project {p['name']}: {type(exc).__name__}: {str(exc)[:120]}")
    assert not problems, "; ".join(problems)


@pytest.mark.requirement("OS-5")
@pytest.mark.role("controller")
@pytest.mark.severity("high")
def test_long_lived_instances_active(cloud, lab, evidence):
    names = lab.get("cloud.long_lived_instances") or []
    if not names:
        pytest.skip("not applicable: the inventory names no long-lived instance (cloud.long_lived_instances)")
    need(cloud, "compute", "instances are Nova's")
    servers = [s.to_dict() for s in cloud.compute.servers(all_projects=True)]
    evidence["instances"] = ",".join(f"{s['name']}:{s['status']}" for s in servers if s["name"] in names) or "none"
    problems = cloudapi.instance_problems(servers, names)
    assert not problems, "; ".join(problems)
