"""The fixtures every check can ask for: the inventory, the run's connections, the target host and its
transport/testinfra host, SQL on a DB node, the cloud, S3, and the evidence dict."""
from __future__ import annotations

import pytest

from stackcheck.probes.sql import Database
from stackcheck.run import state_of
from stackcheck.traces import traces_of

EVIDENCE = pytest.StashKey[dict]()


@pytest.fixture(scope="session")
def lab(request):
    """The inventory: hosts by role and the expectations (lab.get("db.cluster_name"))."""
    return state_of(request.config).lab


@pytest.fixture(scope="session")
def connections(request):
    state = state_of(request.config)
    # connect to every host this run (or this xdist worker) will check, all at once: a dead host then costs
    # one connect timeout in total, not one per host in turn
    targets = {item.callspec.params["target"].name: item.callspec.params["target"]
               for item in request.session.items
               if getattr(item, "callspec", None) and item.callspec.params.get("target") is not None}
    state.connections.warm(list(targets.values()))
    yield state.connections
    state.connections.close()


@pytest.fixture
def target():
    """The inventory host a check runs on; the plugin parametrises it by the check's role marker."""
    raise pytest.UsageError("`target` is parametrised from @pytest.mark.role; this check has none")


@pytest.fixture
def transport(connections, target):
    t = connections.transport(target)
    t.open()  # connect now, so an unreachable host is an error of the setup, not a failure
    return t


@pytest.fixture
def host(connections, target, transport):
    """testinfra's `host` for the target, over the run's one connection to it."""
    return connections.host(target)


@pytest.fixture
def db(connections, target, lab):
    """SQL on the target DB node as the inventory's DB user (reconnects after restarts)."""
    return Database(lambda: connections.sql(target), name=target.name)


@pytest.fixture(scope="session")
def cloud(connections):
    """openstacksdk Connection of the inventory's cloud; an error naming stackcheck.cloud.name when unset."""
    return connections.cloud()


@pytest.fixture(scope="session")
def traces(request):
    """The run's read-only flag and its sweeps of what killed runs left (stackcheck/traces.py)."""
    return traces_of(request.config)


@pytest.fixture(scope="module")
def s3(request, connections, lab, traces):
    """boto3 access to the cloud's S3 API (stackcheck/s3.py): EC2 credentials from the inventory, or created for
    the checking user and deleted when the module's checks end (so it lives minutes, not the whole run); an error
    saying what is missing, or that a read-only run cannot create one, when neither is possible."""
    from stackcheck import s3 as s3mod

    access = s3mod.open_s3(lab, connections.cloud, traces)
    state_of(request.config).add_secrets(access.access, access.secret)  # credentials made here are secrets too
    yield access
    s3mod.close_s3(access, connections.cloud)


@pytest.fixture
def evidence(request):
    """A dict a check fills with what it observed; it goes into the report even when the check passes."""
    return request.node.stash.setdefault(EVIDENCE, {})
