"""The one batched-probe mechanism (stackcheck/probes/batch.py), its script run for real by this machine's /bin/sh:
each part's exit code is kept, a missing file is told from an unreadable one, and a batch whose parts all ran
ends 0 (its own exit code says only whether the batch itself ran to its end)."""
import pytest

from stackcheck.probes import batch
from stackcheck.transport import LocalTransport
from stackcheck.verdicts import CannotCheck


def run(*lines):
    return LocalTransport().run(batch.script(*lines))


def test_files_in_an_empty_directory_ends_the_batch_with_0(tmp_path):
    # the old `[ -e "$f" ] && __sc_file "$f"` over an unmatched glob left exit code 1: the batch looked cut short
    r = run(batch.files_in(str(tmp_path), "*.repo"))
    assert r.rc == 0, r
    found = batch.parse(r.stdout)
    assert found.output(f"dir {tmp_path}", "the directory") == "" and found.names(f"{tmp_path}/") == []


def test_files_in_reads_each_matching_file_and_a_missing_directory_is_no_file(tmp_path):
    (tmp_path / "a.repo").write_text("[a]\n")
    (tmp_path / "b.txt").write_text("not matched\n")
    r = run(batch.files_in(str(tmp_path), "*.repo"), batch.files_in(str(tmp_path / "absent")))
    assert r.rc == 0, r
    found = batch.parse(r.stdout)
    assert found.names(f"{tmp_path}/") == [f"{tmp_path}/a.repo"] and found.file(f"{tmp_path}/a.repo") == "[a]\n"


def test_each_part_keeps_its_own_exit_code_and_the_batch_still_ends_0(tmp_path):
    r = run(batch.part("fails", "echo partial; echo 'why it failed' >&2; exit 4"), batch.part("ok", "printf x"),
            batch.file(str(tmp_path / "absent")))
    assert r.rc == 0, r
    found = batch.parse(r.stdout)
    assert found["fails"].rc == 4 and found["fails"].text == "partial\n" and not found["fails"].ok
    with pytest.raises(CannotCheck, match="could not read the thing: exit code 4: why it failed"):
        found.output("fails", "the thing")
    assert found.output("ok", "x") == "x" and found.file(str(tmp_path / "absent")) is None
