"""Fixer for OS-1: create the projects the inventory names that Keystone lacks (in the cloud user's domain)."""
from __future__ import annotations

import time

from stackcheck.fixing import fixer
from stackcheck.probes import cloudapi


def _retry(step, attempts: int = 3):
    """A dropped connection (Keystone behind uwsgi does that under load) is retried; the step must be idempotent."""
    for i in range(attempts):
        try:
            return step()
        except Exception as exc:  # noqa: BLE001 - only connection trouble is retried, see below
            if i == attempts - 1 or "connect" not in f"{type(exc).__name__} {exc}".lower():
                raise
            time.sleep(1)


@fixer("OS-1", risk="config", checks=["test_projects_exist"])
def create_missing_projects(ctx):
    """Create the missing projects (production, development, test) in Keystone."""
    cloud = ctx.extra["cloud"]
    found = [p.to_dict() for p in cloud.identity.projects()]
    domain = cloud.current_project.get("domain_id") or "default"
    for name in cloudapi.missing_projects(found, ctx.lab.get("cloud.projects")):
        made = {}

        def create(name=name, made=made):
            def once():
                existing = cloud.identity.find_project(name, domain_id=domain)  # a retry after a lost answer
                made["id"] = (existing or cloud.identity.create_project(
                    name=name, domain_id=domain, description="created by stackcheck --fix (OS-1)")).id
            _retry(once)

        def delete(made=made):
            if made.get("id"):
                _retry(lambda: cloud.identity.delete_project(made["id"], ignore_missing=True))

        ctx.call(f"create project {name} in domain {domain}", create, undo=delete)
