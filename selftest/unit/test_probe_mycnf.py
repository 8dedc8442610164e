"""my.cnf probe on the option files, my_print_defaults and compiled defaults captured from dbnode1
(`python -m selftest.capture raw dbnode1 root "mycnf.read_command()" FILE`)."""
from pathlib import Path

import pytest

from stackcheck.probes import batch, mycnf
from stackcheck.verdicts import CannotCheck

DATA = Path(__file__).parent / "data" / "db"
DUMP = (DATA / "dbnode1-mycnf-dump.txt").read_text()


def test_read_order_follows_includes():
    config = mycnf.parse(DUMP)
    files = [s.path for s in config.settings]
    # /etc/mysql/my.cnf -> !includedir conf.d, mariadb.conf.d (sorted): 50-server.cnf before 60-galera.cnf
    assert files.index("/etc/mysql/mariadb.conf.d/50-server.cnf") < files.index("/etc/mysql/mariadb.conf.d/60-galera.cnf")
    bind = [s for s in config.settings if s.key == "bind_address"]
    assert [b.value for b in bind] == ["127.0.0.1", "0.0.0.0"]
    assert config.where("bind_address").path.endswith("60-galera.cnf")
    assert config.value("bind-address") == "0.0.0.0"  # my_print_defaults agrees: the last one wins


def test_values_where_and_compiled_defaults():
    config = mycnf.parse(DUMP)
    s = config.where("binlog_format")
    assert (s.value, s.path, s.group) == ("ROW", "/etc/mysql/mariadb.conf.d/60-galera.cnf", "mysqld")
    assert config.files[s.path].splitlines()[s.line - 1].startswith("binlog_format")
    assert config.value("wsrep_provider_options") == "gcache.size=64M"  # quotes dropped
    # no file sets it: after a restart the compiled default applies
    assert config.value("wsrep_sst_donor") is None
    assert config.compiled["binlog_format"] == "MIXED"
    assert config.after_restart("innodb_autoinc_lock_mode") == "2"
    assert "/etc/mysql/debian.cnf" not in config.files  # credentials are never read


def test_dump_keeps_file_text_exact():
    files = mycnf.parse(DUMP).files
    assert files["/etc/mysql/mariadb.conf.d/60-galera.cnf"].endswith("wsrep_slave_threads            = 2\n")


def test_set_option_rewrites_the_deciding_line_or_adds():
    config = mycnf.parse(DUMP.replace("binlog_format                  = ROW", "binlog_format                  = MIXED"))
    path, text = mycnf.set_option(config, "binlog_format", "ROW", "/etc/mysql/mariadb.conf.d/60-galera.cnf")
    assert path.endswith("60-galera.cnf") and "binlog_format = ROW\n" in text and "MIXED" not in text
    assert len(text.splitlines()) == len(config.files[path].splitlines())
    assert mycnf.set_option(mycnf.parse(DUMP), "binlog_format", "ROW", path) is None
    path, text = mycnf.set_option(config, "wsrep_sst_donor", "DBNode2", "/etc/mysql/mariadb.conf.d/60-galera.cnf")
    lines = text.splitlines()
    at = lines.index("wsrep_sst_donor = DBNode2")  # at the end of [mysqld], before [galera]
    assert lines.index("[mysqld]") < at < lines.index("[galera]")


def test_add_to_group_inserts_in_the_group():
    text = "[mysqld]\nport = 3306\n\n[client]\nuser = x\n"
    assert mycnf.add_to_group(text, "mysqld", "binlog_format", "ROW") == \
        "[mysqld]\nport = 3306\nbinlog_format = ROW\n\n[client]\nuser = x\n"
    assert mycnf.add_to_group("[client]\n", "galera", "wsrep_on", "ON") == "[client]\n\n[galera]\nwsrep_on = ON\n"


def test_print_defaults_and_help_parsers():
    assert mycnf.parse_print_defaults("--skip-name-resolve\n--loose-wsrep-on=ON\n--datadir=/a\n--datadir=/b\n") == \
        {"skip_name_resolve": "1", "wsrep_on": "ON", "datadir": "/b"}
    help_text = ("Variables (--variable-name=value)\nand boolean options {FALSE|TRUE}  Value (after reading options)\n"
                 "--------------------------------- ----------\nbinlog-format   MIXED\nwsrep-slave-threads  1\n\n"
                 "To see what values a running MariaDB server is using, type\n")
    assert mycnf.parse_help_defaults(help_text) == {"binlog_format": "MIXED", "wsrep_slave_threads": "1"}


def test_an_option_file_this_user_cannot_read_is_an_error():
    # captured as `nobody` on dbnode1 with /etc/mysql/conf.d/zz-private.cnf (mode 0600) setting
    # binlog_format = STATEMENT: my_print_defaults skips the file it cannot read and exits 0, so the old probe
    # judged the options without it (and DBC-1 passed with ROW while a restart would bring STATEMENT)
    text = (DATA / "dbnode1-mycnf-dump-nobody-private-file.txt").read_text()
    assert batch.parse(text)["print_defaults"].rc == 0
    with pytest.raises(CannotCheck, match="not readable by this user: /etc/mysql/conf.d/zz-private.cnf"):
        mycnf.parse(text)


def test_my_print_defaults_failing_is_an_error():
    found = batch.parse(DUMP)
    found["print_defaults"] = batch.Part("print_defaults", "", 127, ["sh: 1: my_print_defaults: not found"])
    with pytest.raises(CannotCheck, match="my_print_defaults --mysqld command not found"):
        mycnf.from_batch(found)


def test_compiled_defaults_unread_only_matter_where_no_file_decides():
    found = batch.parse(DUMP)
    found["help"] = batch.Part("help", "", 127, ["no mariadbd/mysqld binary found"])
    config = mycnf.from_batch(found)
    assert config.after_restart("binlog_format") == "ROW"  # a file sets it
    with pytest.raises(CannotCheck, match="no mariadbd/mysqld binary found"):
        config.after_restart("wsrep_sst_donor")
