"""What a fix leaves on the host besides its change: one audit entry (run id, requirement ids, fixer, each file's
sha256 before and after, outcome), and nothing readable by others on the way: the new file is 0600 from the
moment it exists until it has its content and the original's owner and mode; backup directories are 0700.
Real files on this machine through LocalTransport (the engine's own commands), as test_fix_engine.py."""
import hashlib
import os
import stat

import pytest

from stackcheck import fixing, journal
from stackcheck.fixing import Engine, FixContext, Fixer
from stackcheck.transport import LocalTransport

RUN_ID = "20261203T101500Z-5eed1d"


@pytest.fixture
def engine(tmp_path, monkeypatch):
    monkeypatch.setattr(fixing, "BACKUP_ROOT", str(tmp_path / "backups"))
    monkeypatch.setattr(fixing, "LOCK_PATH", str(tmp_path / "fix.lock"))
    monkeypatch.setattr(journal, "JOURNAL", str(tmp_path / "journal" / "fix-journal.json"))
    return Engine(echo=lambda s: None, run_id=RUN_ID)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def fixer(func):
    return Fixer(func, ("HZN-1", "HZN-2"), "config", (), ())


def entries(audit_log) -> list[str]:
    return audit_log.read_text().splitlines() if audit_log.exists() else []


def test_a_fix_leaves_one_entry_naming_run_requirements_fixer_files_and_outcome(tmp_path, engine, audit_log):
    conf, new = tmp_path / "a.conf", tmp_path / "conf.d" / "new.conf"
    conf.write_text("ttl = -1\n")

    def fx(c):
        c.edit(str(conf), "ttl = 604800\n")
        c.edit(str(new), "added\n")

    out = engine.fix(fixer(fx), FixContext(LocalTransport()), lambda: None, where="controller")
    assert out.status == "fixed"
    [entry] = entries(audit_log)
    assert entry.startswith("fix fixed: ") and f"run_id={RUN_ID}" in entry and "requirements=HZN-1,HZN-2" in entry
    assert "fixer=selftest.unit.test_fix_audit.fx" in entry and "host=controller" in entry
    assert f"file={conf} before={sha('ttl = -1' + chr(10))} after={sha('ttl = 604800' + chr(10))}" in entry
    assert f"file={new} before=absent after={sha('added' + chr(10))}" in entry
    assert entry.endswith(" steps=0/0") and "ttl" not in entry.replace(str(conf), ""), "no file content in the log"
    assert f"run {RUN_ID}" in out.summary()


def test_a_rolled_back_fix_says_so_and_its_files_are_as_before(tmp_path, engine, audit_log):
    conf = tmp_path / "a.conf"
    conf.write_text("ttl = -1\n")

    def recheck():
        raise AssertionError("still wrong")

    out = engine.fix(fixer(lambda c: c.edit(str(conf), "ttl = 0\n")), FixContext(LocalTransport()), recheck)
    assert out.status == "fix-failed"
    [entry] = entries(audit_log)
    assert entry.startswith("fix fix-failed (rolled back): ")
    assert f"before={sha('ttl = -1' + chr(10))} after={sha('ttl = -1' + chr(10))}" in entry


def test_nothing_changed_nothing_logged(tmp_path, engine, audit_log):
    conf = tmp_path / "a.conf"
    conf.write_text("same\n")
    assert engine.fix(fixer(lambda c: c.edit(str(conf), "same\n")), FixContext(LocalTransport()), lambda: None) \
        .status == "noop"
    dry = Engine(dry_run=True, echo=lambda s: None)
    assert dry.fix(fixer(lambda c: c.edit(str(conf), "other\n")), FixContext(LocalTransport()), lambda: None) \
        .status == "planned"
    assert entries(audit_log) == []


def test_a_log_that_refuses_the_entry_is_said_in_the_fix_log(tmp_path, engine, monkeypatch):
    monkeypatch.setattr(journal, "AUDIT_COMMAND", "echo 'logger: socket /dev/log: No such file' >&2; exit 1")
    conf = tmp_path / "a.conf"
    conf.write_text("a\n")
    out = engine.fix(fixer(lambda c: c.edit(str(conf), "b\n")), FixContext(LocalTransport()), lambda: None,
                     where="lb")
    assert out.status == "fixed" and "audit entry NOT written to lb's log: exit code 1: logger" in out.summary()


@pytest.fixture
def cat_spy(tmp_path, monkeypatch):
    """A `cat` first on PATH that notes the mode of the file it is about to write into (its stdout), then is
    the real cat: the mode the candidate has when its content goes in, observed at that moment, not raced."""
    bindir, log = tmp_path / "spybin", tmp_path / "modes.log"
    bindir.mkdir()
    spy = bindir / "cat"
    spy.write_text(f"#!/bin/sh\nif [ -f /proc/$$/fd/1 ]; then echo \"$(stat -L -c '%a %u' /proc/$$/fd/1) "
                   f"$(readlink /proc/$$/fd/1)\" >> {log}; fi\nexec /bin/cat \"$@\"\n")
    spy.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    return log


def test_the_new_file_is_private_while_written_then_takes_the_originals_mode_and_owner(tmp_path, engine, cat_spy):
    conf = tmp_path / "my.cnf"
    conf.write_text("[galera]\nwsrep_sst_auth = sst:old\n")
    os.chown(conf, 1234, 1235)
    conf.chmod(0o640)
    # a candidate left by a killed run, readable by all: it must not be written into (it would keep its mode)
    left = tmp_path / "my.cnf.stackcheck-new"
    left.write_text("stale\n")
    left.chmod(0o644)
    out = engine.fix(fixer(lambda c: c.edit(str(conf), "[galera]\nwsrep_sst_auth = sst:new\n")),
                     FixContext(LocalTransport()), lambda: None)
    assert out.status == "fixed", out.summary()
    written = [line.split() for line in cat_spy.read_text().splitlines() if line.endswith(".stackcheck-new")]
    assert written == [["600", "0", str(left)]], cat_spy.read_text()
    st = conf.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 1234, 1235)
    assert conf.read_text().endswith("sst:new\n") and not left.exists()


def test_a_new_file_gets_its_declared_mode_after_being_written_0600(tmp_path, engine, cat_spy):
    new = tmp_path / "etc" / "stackcheck.cnf"
    out = engine.fix(fixer(lambda c: c.edit(str(new), "x\n", mode="0644")), FixContext(LocalTransport()),
                     lambda: None)
    assert out.status == "fixed"
    assert [line.split()[0] for line in cat_spy.read_text().splitlines() if line.endswith(".stackcheck-new")] == ["600"]
    assert stat.S_IMODE(new.stat().st_mode) == 0o644


def test_backup_directories_are_0700(tmp_path, engine):
    conf = tmp_path / "deep" / "dir" / "a.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("a\n")
    conf.chmod(0o600)
    out = engine.fix(fixer(lambda c: c.edit(str(conf), "b\n")), FixContext(LocalTransport()), lambda: None)
    assert out.status == "fixed"
    backups = tmp_path / "backups"
    dirs = [backups] + [p for p in backups.rglob("*") if p.is_dir()]
    assert len(dirs) > 3 and {oct(stat.S_IMODE(d.stat().st_mode)) for d in dirs} == {"0o700"}, dirs
    assert stat.S_IMODE(os.stat(out.backups[0]).st_mode) == 0o600  # the backup keeps the file's own mode


def test_rolling_back_a_dead_runs_fix_is_logged_too(tmp_path, engine, audit_log):
    from selftest.unit.test_fix_engine import _die_at
    conf = tmp_path / "a.conf"
    conf.write_text("ttl = -1\n")
    _die_at("after-write", tmp_path, conf, tmp_path / "marker")  # SIGKILLed before it could log anything
    assert entries(audit_log) == []
    engine.sweep(LocalTransport(), lambda line: None)
    [entry] = entries(audit_log)
    assert entry.startswith("fix rollback of ") and "interrupted fix done: " in entry and f"run_id={RUN_ID}" in entry
    assert "requirements=CEIL-1 " in entry  # from the dead run's journal
    assert f"file={conf} before={sha('ttl = -1' + chr(10))} after={sha('ttl = -1' + chr(10))}" in entry
