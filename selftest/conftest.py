import subprocess
import sys

import pytest

from selftest import faultlib
from selftest.faultlib import REPO

pytest_plugins = ["pytester"]


def pytest_collection_modifyitems(config, items):
    """Fast unit tests first, then the healthy lab (before any fault is injected), the fault matrix, and the
    lab lifecycle (down + up) last."""
    def rank(item):
        if "selftest/unit/" in item.nodeid:
            return 0
        if item.get_closest_marker("lifecycle"):
            return 3
        return 2 if "selftest/faults/" in item.nodeid else 1
    items.sort(key=rank)


@pytest.fixture(scope="session")
def lab_up():
    """The lab in a box must be up (the test command brings it up first); fail loudly, never skip."""
    proc = subprocess.run([sys.executable, "-m", "labbox", "status"], capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        pytest.fail(f"the lab in a box is not up (`labbox up` first):\n{proc.stdout}{proc.stderr}")
    return True


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A fault test's covers(...) claim is a proof, not a declaration: each id it names must have had a check
    seen failing (then, usually, fixed) in one of the test's runs."""
    claimed = {rid for m in item.iter_markers("covers") for rid in m.args}
    faultlib.SEEN_FAILING.clear()
    result = yield
    unproven = sorted(claimed - faultlib.SEEN_FAILING)
    if unproven:
        pytest.fail(f"{item.name} claims to cover {', '.join(unproven)}, but no check of "
                    f"{'it' if len(unproven) == 1 else 'them'} was seen failing in its runs", pytrace=False)
    return result
