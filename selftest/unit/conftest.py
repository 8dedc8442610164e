import pytest

from stackcheck import journal


@pytest.fixture(autouse=True)
def audit_log(tmp_path, monkeypatch):
    """Fixes run by unit tests (LocalTransport, on this machine) write their audit entries to a file of the test,
    not to this machine's log: the path of that file."""
    path = tmp_path / "audit.log"
    monkeypatch.setattr(journal, "AUDIT_COMMAND", f"printf '%s\\n' {{message}} >> {path}")
    return path
