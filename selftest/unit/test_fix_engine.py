"""The fix engine against real files on this machine (LocalTransport in a temporary directory): diff, backup,
validation before write, rollback when the re-check or a step fails, the lock, and idempotence."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stackcheck import fixing, journal
from stackcheck.fixing import Engine, FixContext, Fixer
from stackcheck.transport import LocalTransport

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def engine(tmp_path, monkeypatch):
    monkeypatch.setattr(fixing, "BACKUP_ROOT", str(tmp_path / "backups"))
    monkeypatch.setattr(fixing, "LOCK_PATH", str(tmp_path / "fix.lock"))
    monkeypatch.setattr(journal, "JOURNAL", str(tmp_path / "journal" / "fix-journal.json"))
    return Engine()


def make(func, risk="config"):
    return Fixer(func, ("CEIL-1",), risk, (), ())


def ctx():
    return FixContext(LocalTransport())


def recheck_file(path, wanted):
    def recheck():
        assert wanted in path.read_text(), f"{wanted!r} not in {path}"
    return recheck


def test_fixed_with_backup_and_diff(tmp_path, engine):
    conf = tmp_path / "a.conf"
    conf.write_text("ttl = -1\n")
    conf.chmod(0o640)
    out = engine.fix(make(lambda c: c.edit(str(conf), "ttl = 604800\n")), ctx(), recheck_file(conf, "604800"))
    assert out.status == "fixed"
    assert "-ttl = -1\n+ttl = 604800" in out.diff
    assert conf.read_text() == "ttl = 604800\n" and oct(conf.stat().st_mode & 0o777) == "0o640"
    assert open(out.backups[0]).read() == "ttl = -1\n"
    assert not (tmp_path / "fix.lock").exists(), "the lock is released after the fix"


def test_noop_when_nothing_to_change(tmp_path, engine):
    conf = tmp_path / "a.conf"
    conf.write_text("ttl = 604800\n")
    out = engine.fix(make(lambda c: c.edit(str(conf), "ttl = 604800\n")), ctx(), recheck_file(conf, "604800"))
    assert out.status == "noop" and not (tmp_path / "backups").exists()


def test_rollback_when_recheck_fails(tmp_path, engine):
    conf = tmp_path / "a.conf"
    conf.write_text("ttl = -1\n")
    marker = tmp_path / "restarted"

    def fx(c):
        c.edit(str(conf), "ttl = 0\n")
        c.command(f"touch {marker}", undo=f"rm {marker}")

    out = engine.fix(make(fx), ctx(), recheck_file(conf, "604800"))
    assert out.status == "fix-failed" and "604800" in out.recheck_error
    assert conf.read_text() == "ttl = -1\n" and not marker.exists()
    assert "restored " + str(conf) + " (verified)" in out.summary() and not out.rollback_left
    assert "after the rollback the check fails as before" in out.summary()


def test_a_rollback_that_cannot_restore_says_so(tmp_path, engine):
    """The backup is gone when the rollback needs it (a full or cleaned /var/backups): the engine must not claim
    the host is as it was."""
    conf = tmp_path / "a.conf"
    conf.write_text("ttl = -1\n")

    def fx(c):
        c.edit(str(conf), "ttl = 0\n")
        c.command(f"rm -rf {tmp_path / 'backups'}")  # the step that loses the backup

    out = engine.fix(make(fx), ctx(), recheck_file(conf, "604800"))
    assert out.status == "fix-failed" and out.rollback_left == [str(conf)]
    assert "ROLLBACK INCOMPLETE" in out.summary() and "could NOT restore" in out.summary()


def test_new_file_removed_on_rollback(tmp_path, engine):
    new = tmp_path / "sysctl.d" / "60-x.conf"
    out = engine.fix(make(lambda c: c.edit(str(new), "x = 1\n")), ctx(), recheck_file(tmp_path / "a", "y"))
    assert out.status == "fix-failed" and not new.exists()


def test_validation_before_write_keeps_the_old_file(tmp_path, engine):
    conf = tmp_path / "haproxy.cfg"
    conf.write_text("good\n")
    fx = make(lambda c: c.edit(str(conf), "broken\n", validate="grep -q good {path}"))
    out = engine.fix(fx, ctx(), recheck_file(conf, "good"))
    assert out.status == "fix-failed" and "validation" in out.recheck_error
    assert conf.read_text() == "good\n" and not (tmp_path / "haproxy.cfg.stackcheck-new").exists()


def test_in_place_validation_failure_rolls_back(tmp_path, engine):
    conf = tmp_path / "apache.conf"
    conf.write_text("LoadModule mpm_event\n")
    fx = make(lambda c: c.edit(str(conf), "LoadModule mpm_prefork\nLoadModule mpm_event\n",
                               validate_in_place=f"test $(grep -c mpm_ {conf}) -eq 1"))
    out = engine.fix(fx, ctx(), recheck_file(conf, "mpm"))
    assert out.status == "fix-failed" and conf.read_text() == "LoadModule mpm_event\n"


def test_dry_run_changes_nothing(tmp_path):
    conf = tmp_path / "a.conf"
    conf.write_text("ttl = -1\n")
    out = Engine(dry_run=True).fix(make(lambda c: c.edit(str(conf), "ttl = 1\n")), ctx(), recheck_file(conf, "1"))
    assert out.status == "planned" and "+ttl = 1" in out.diff and conf.read_text() == "ttl = -1\n"


def test_lock_held_by_a_live_run_refuses(tmp_path, engine):
    conf = tmp_path / "a.conf"
    conf.write_text("ttl = -1\n")
    (tmp_path / "fix.lock").mkdir()
    live = f"{socket.gethostname()}:{os.getppid()}:{int(time.time())}"  # our parent process: alive
    (tmp_path / "fix.lock" / "owner").write_text(live + "\n")
    out = engine.fix(make(lambda c: c.edit(str(conf), "ttl = 1\n")), ctx(), recheck_file(conf, "1"))
    assert out.status == "refused" and live in out.summary() and "is running" in out.summary()
    assert conf.read_text() == "ttl = -1\n" and (tmp_path / "fix.lock").exists(), "someone else's lock stays"
    recent_elsewhere = f"otherhost:123:{int(time.time()) - 60}"
    (tmp_path / "fix.lock" / "owner").write_text(recent_elsewhere + "\n")
    out = engine.fix(make(lambda c: c.edit(str(conf), "ttl = 1\n")), ctx(), recheck_file(conf, "1"))
    assert out.status == "refused" and "another runner" in out.summary()


@pytest.mark.parametrize("owner", ["dead-pid", "old-elsewhere"])
def test_stale_lock_of_a_dead_owner_is_cleared(tmp_path, engine, owner):
    conf = tmp_path / "a.conf"
    conf.write_text("ttl = -1\n")
    (tmp_path / "fix.lock").mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    token = {"dead-pid": f"{socket.gethostname()}:{dead.pid}:{int(time.time())}",
             "old-elsewhere": f"otherhost:123:{int(time.time()) - 3 * 3600}"}[owner]
    (tmp_path / "fix.lock" / "owner").write_text(token + "\n")
    out = engine.fix(make(lambda c: c.edit(str(conf), "ttl = 1\n")), ctx(), recheck_file(conf, "1"))
    assert out.status == "fixed" and f"cleared the stale fix lock of {token}" in out.summary()
    assert not (tmp_path / "fix.lock").exists()


def test_a_lock_that_cannot_be_made_refuses_and_says_why(tmp_path, engine, monkeypatch):
    conf = tmp_path / "a.conf"
    conf.write_text("ttl = -1\n")
    (tmp_path / "not-a-dir").write_text("")
    monkeypatch.setattr(fixing, "LOCK_PATH", str(tmp_path / "not-a-dir" / "fix.lock"))
    out = engine.fix(make(lambda c: c.edit(str(conf), "ttl = 1\n")), ctx(), recheck_file(conf, "1"))
    assert out.status == "refused" and "could not take the fix lock" in out.summary() and "Not a directory" in \
        out.summary(), out.summary()
    assert "taken over" not in out.summary() and conf.read_text() == "ttl = -1\n"


def test_a_cluster_wide_fix_holds_the_lock_of_every_host_it_acts_on(tmp_path, engine):
    acted = []

    def fx(c):
        c.touches(LocalTransport("node1"))
        c.call("restart node1", lambda: acted.append("node1"))

    (tmp_path / "fix.lock").mkdir()
    live = f"{socket.gethostname()}:{os.getppid()}:{int(time.time())}"
    (tmp_path / "fix.lock" / "owner").write_text(live + "\n")
    out = engine.fix(make(fx), FixContext(None), lambda: None)
    assert out.status == "refused" and "another fix run holds" in out.summary() and acted == [], out.summary()
    (tmp_path / "fix.lock" / "owner").unlink()
    (tmp_path / "fix.lock").rmdir()
    seen_locked = []
    out = engine.fix(make(lambda c: (fx(c), c.call("look", lambda: seen_locked.append((tmp_path / "fix.lock").is_dir())))),
                     FixContext(None), lambda: None)
    assert out.status == "fixed" and acted == ["node1"] and seen_locked == [True], out.summary()
    assert not (tmp_path / "fix.lock").exists(), "released after the fix"
    assert "node1's" in out.summary()  # its audit entry (written, or why not)


def _die_at(step, tmp_path, conf, marker):
    """A fix run killed (SIGKILL) at `step`, in a child process, through the test hook."""
    code = f"""
import sys
sys.path.insert(0, {str(REPO)!r})
from stackcheck import fixing, journal
from stackcheck.fixing import Engine, FixContext, Fixer
from stackcheck.transport import LocalTransport
fixing.BACKUP_ROOT, fixing.LOCK_PATH = {str(tmp_path / "backups")!r}, {str(tmp_path / "fix.lock")!r}
journal.JOURNAL = {str(tmp_path / "journal" / "fix-journal.json")!r}
def fx(c):
    c.edit({str(conf)!r}, "ttl = 604800\\n")
    c.command("touch {marker}", undo="rm -f {marker}")
    c.command("true")
Engine().fix(Fixer(fx, ("CEIL-1",), "config", (), ()), FixContext(LocalTransport()), lambda: None)
"""
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, fixing.TEST_STOP_ENV: step})
    assert proc.returncode == -9, f"the hook did not kill the run at {step}"


@pytest.mark.parametrize("step", ["after-backup", "after-write", "after-first-action", "during-recheck"])
def test_a_run_killed_mid_fix_is_rolled_back_by_the_next(tmp_path, engine, step):
    conf = tmp_path / "a.conf"
    conf.write_text("ttl = -1\n")
    marker = tmp_path / "restarted"
    _die_at(step, tmp_path, conf, marker)
    assert (tmp_path / "fix.lock").exists() and (tmp_path / "journal" / "fix-journal.json").exists()
    # the next run sweeps first: clears the dead run's lock, rolls its fix back (file by checksum, undo steps)...
    log = []
    engine.sweep(LocalTransport(), log.append)
    assert conf.read_text() == "ttl = -1\n", "the host is as it was before the dead run's fix"
    # ... so its checks and plans see the host as it really is, and the fix is done again from the start
    out = engine.fix(make(lambda c: c.edit(str(conf), "ttl = 604800\n")), ctx(), recheck_file(conf, "604800"))
    log = "\n".join(log + out.log)
    assert "cleared the stale fix lock" in log and "found the open fix journal" in log, log
    assert "rolled back the interrupted fix" in log and out.status == "fixed", log
    if step != "after-backup":
        assert "restored from" in log
    assert not marker.exists(), "the dead run's step was undone"
    assert conf.read_text() == "ttl = 604800\n"
    assert not (tmp_path / "fix.lock").exists() and not (tmp_path / "journal" / "fix-journal.json").exists()


def test_a_file_changed_since_the_dead_run_is_left_and_the_host_refused(tmp_path, engine):
    conf = tmp_path / "a.conf"
    conf.write_text("ttl = -1\n")
    _die_at("after-write", tmp_path, conf, tmp_path / "m")
    conf.write_text("ttl = 42\n")  # an operator edited it meanwhile
    log = []
    with pytest.raises(fixing.FixRefused, match="could not be rolled back"):
        engine.sweep(LocalTransport(), log.append)
    assert "changed by someone else" in "\n".join(log)
    out = engine.fix(make(lambda c: c.edit(str(conf), "ttl = 604800\n")), ctx(), recheck_file(conf, "604800"))
    assert out.status == "refused" and "could not be rolled back" in out.summary()
    assert conf.read_text() == "ttl = 42\n" and (tmp_path / "journal" / "fix-journal.json").exists()


def test_data_risk_needs_explicit_flag(tmp_path, engine):
    out = engine.fix(make(lambda c: c.command("true"), risk="data"), ctx(), lambda: None)
    assert out.status == "refused" and "--fix-data" in out.summary()
    assert Engine(allow_data=True).fix(make(lambda c: c.command("true"), risk="data"), ctx(), lambda: None).status \
        == "fixed"


def test_guard_refusal_changes_nothing(tmp_path, engine):
    conf = tmp_path / "my.cnf"
    conf.write_text("a\n")

    def guard():
        raise fixing.FixRefused("dbnode2 is Donor/Desynced")

    out = engine.fix(make(lambda c: c.edit(str(conf), "b\n")), ctx(), recheck_file(conf, "b"), guard=guard)
    assert out.status == "refused" and conf.read_text() == "a\n"


def test_diff_masks_credential_lines_but_the_file_gets_them():
    from stackcheck.fixing import FileEdit
    edit = FileEdit("/etc/swift/proxy-server.conf", "[filter:s3token]\nuse = egg:swift#s3token\n",
                    "[filter:s3token]\nuse = egg:swift#s3token\npassword = hunter2-real\nadmin_token: tok-1\n")
    diff = edit.diff()
    assert "hunter2-real" not in diff and "tok-1" not in diff
    assert "+password = [REDACTED]" in diff and "+admin_token: [REDACTED]" in diff
    assert "use = egg:swift#s3token" in diff and "password = hunter2-real" in edit.new
