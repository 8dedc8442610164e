"""The one firewall evaluator (stackcheck/probes/iptables.py `judge_port`) on real-looking iptables-save text:
a NEW TCP connection to a port from anywhere is certainly accepted, certainly refused, or uncertain, and a rule
that may match only part of that traffic is never stepped over.

The three false passes of issue 11 (the old stackcheck/probes/port_verdict.py judged them "accepted"):
`-A INPUT -i eth0 -j REJECT` before the accept rule, `! -s 10.0.0.0/8 -j DROP`, and `-I INPUT 1 -j REJECT` in a
persisted file (whose `-I` lines it did not read)."""
from pathlib import Path

import pytest

from stackcheck.probes import iptables as ipt

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
SPICE = ipt.Traffic(6082)
SPICE_RULE = ipt.accept_rule(6082, "Allow SPICE connections for console access")
# the lab controller's persisted rules, RDO/packstack style (labbox/roles/controller/openstack/rules.v4)
CONTROLLER = (REPO / "labbox/roles/controller/openstack/rules.v4").read_text().replace("@LAB_NET@", "198.18.0.0/24")
# where its first REJECT sits once the SPICE rule is appended after it (the file grows with the lab's services)
CONTROLLER_REJECT_AT = 1 + [line.startswith("-A INPUT -j REJECT") for line in CONTROLLER.splitlines()
                            if line.startswith("-A INPUT") and "Allow SPICE" not in line].index(True)
# RHEL 7's /etc/sysconfig/iptables as iptables-save wrote it, with a SPICE rule (ports 6080 and 6082)
RHEL7 = (DATA / "openstack/sysconfig-iptables.rhel7-spice.txt").read_text()


def judge(text: str, traffic: ipt.Traffic = SPICE) -> ipt.PortVerdict:
    return ipt.judge_port(ipt.parse_save(text), traffic)


def before_first_input_rule(text: str, line: str) -> str:
    first = next(l for l in text.splitlines() if l.startswith("-A INPUT"))
    return text.replace(first, f"{line}\n{first}", 1)


def test_the_healthy_rulesets_accept_the_port():
    for text in (CONTROLLER, RHEL7, (DATA / "openstack/iptables-save.libvirt-spice.txt").read_text()):
        v = judge(text)
        assert v.accepted and "6082" in v.rule, v.describe()
    assert judge(CONTROLLER, ipt.Traffic(6083)).refused  # RDO's final REJECT
    assert judge((DATA / "openstack/iptables-save.libvirt-spice.txt").read_text(), ipt.Traffic(6083)).accepted  # policy


def test_user_chains_followed_and_partial_accepts_before_them():
    """(moved from the old port_verdict tests, with the three-valued meaning)"""
    rules = ("*filter\n:INPUT DROP [0:0]\n:IN_public - [0:0]\n-A INPUT -s 10.0.0.0/8 -j ACCEPT\n"
             "-A INPUT -p udp --dport 6082 -j ACCEPT\n-A INPUT -j IN_public\n"
             "-A IN_public -p tcp -m tcp --dport 6082 -m conntrack --ctstate NEW -j ACCEPT\nCOMMIT\n")
    v = judge(rules)
    assert v.accepted and v.rule.startswith("-A IN_public")  # the 10/8 accept does not change the answer
    other = judge(rules, ipt.Traffic(6080))  # accepted from 10/8, dropped by the policy from elsewhere
    assert other.uncertain and other.rule == "-A INPUT -s 10.0.0.0/8 -j ACCEPT"


# --- the three false passes of the old port_verdict -----------------------------------------------------------------
def test_reject_by_input_interface_before_the_accept_is_uncertain():
    v = judge(before_first_input_rule(CONTROLLER, "-A INPUT -i eth0 -j REJECT"))
    assert v.uncertain and v.rule == "-A INPUT -i eth0 -j REJECT" and v.how == "by input interface"
    message = v.cannot_judge("the running firewall of controller")
    assert message.startswith("cannot judge whether TCP 6082 is accepted by the running firewall of controller: "
                              "rule `-A INPUT -i eth0 -j REJECT` may match part of")
    assert "make the rule explicit" in message


def test_negated_source_drop_is_uncertain():
    v = judge(before_first_input_rule(RHEL7, "-A INPUT ! -s 10.0.0.0/8 -j DROP"))
    assert v.uncertain and v.rule == "-A INPUT ! -s 10.0.0.0/8 -j DROP" and v.how == "by source address, negated"


def test_insert_line_in_a_persisted_file_is_read_at_its_position():
    persisted = CONTROLLER.replace("COMMIT", "-I INPUT 1 -j REJECT\nCOMMIT", 1)
    v = judge(persisted)
    assert v.refused and v.rule == "-I INPUT 1 -j REJECT"
    # -I with a position: the SPICE accept inserted at 3 stays after the rules before it
    rules = ipt.parse_save(RHEL7.replace("COMMIT", f"-I INPUT 3 {SPICE_RULE}\nCOMMIT", 1))["filter"].chain("INPUT")
    assert [r.text.split()[0] for r in rules][:4] == ["-A", "-A", "-I", "-A"]
    # an index past the chain's end is refused by iptables-restore: nothing is judged from such a file
    broken = judge(RHEL7.replace("COMMIT", "-I INPUT 9 -j REJECT\nCOMMIT", 1))
    assert broken.uncertain and "index of insertion too big" in broken.how


# --- partial rules -------------------------------------------------------------------------------------------------
def test_partial_rule_by_source_address():
    only_lab = RHEL7.replace('-A INPUT -p tcp -m multiport --dports 6080,6082',
                             '-A INPUT -s 198.18.0.0/24 -p tcp -m multiport --dports 6080,6082')
    v = judge(only_lab)
    assert v.uncertain and v.how == "by source address" and "-s 198.18.0.0/24" in v.rule
    # from the lab network only, the same rules are certain
    assert judge(only_lab, ipt.Traffic(6082, sources=("198.18.0.15", "198.18.0.16"))).accepted
    assert judge(only_lab, ipt.Traffic(6082, sources=("192.0.2.7",))).refused


def test_partial_rule_by_interface_is_certain_when_the_interfaces_are_known():
    text = before_first_input_rule(CONTROLLER, "-A INPUT -i eth0 -j REJECT")
    assert judge(text, ipt.Traffic(6082, interfaces=("eth0",))).refused
    assert judge(text, ipt.Traffic(6082, interfaces=("eth1",))).accepted
    assert judge(text, ipt.Traffic(6082, interfaces=("eth0", "eth1"))).uncertain
    # loopback is not "from anywhere": its accept rule neither opens nor closes the port
    assert judge("*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n").refused


def test_ipset_match_is_uncertain():
    v = judge(before_first_input_rule(CONTROLLER, "-A INPUT -m set --match-set blocklist src -j DROP"))
    assert v.uncertain and v.how == "ipset match -m set"


def test_conntrack_states_other_than_new_do_not_decide_and_odd_ones_are_uncertain():
    # RELATED,ESTABLISHED / INVALID never see the first packet of a connection
    assert judge(before_first_input_rule(CONTROLLER, "-A INPUT -m conntrack --ctstate INVALID -j DROP")).accepted
    v = judge(before_first_input_rule(CONTROLLER, "-A INPUT -m conntrack --ctstate UNTRACKED -j DROP"))
    assert v.uncertain and v.how == "by conntrack state UNTRACKED"
    assert judge(before_first_input_rule(CONTROLLER, "-A INPUT -m conntrack ! --ctstate NEW -j DROP")).accepted


def test_unknown_match_and_rate_limits_are_uncertain():
    v = judge(before_first_input_rule(CONTROLLER, "-A INPUT -p tcp -m recent --update --seconds 60 -j DROP"))
    assert v.uncertain and v.how == "a match not modelled (-m recent)"


def test_partial_rule_whose_target_does_not_change_the_answer_is_no_doubt():
    v = judge(before_first_input_rule(CONTROLLER, "-A INPUT -s 198.18.0.0/24 -p tcp --dport 6082 -j ACCEPT"))
    assert v.accepted
    logged = judge(before_first_input_rule(CONTROLLER, "-A INPUT -i eth0 -j LOG --log-prefix \"in: \""))
    assert logged.accepted


def test_user_chain_with_return():
    text = """*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:IN_public - [0:0]
:IN_public_allow - [0:0]
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT -j IN_public
-A IN_public -p icmp -j ACCEPT
-A IN_public -j IN_public_allow
-A IN_public_allow -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -j ACCEPT
-A IN_public_allow -p tcp -m tcp --dport 6082 -m conntrack --ctstate NEW -j ACCEPT
-A IN_public_allow -j RETURN
COMMIT
"""
    v = judge(text)
    assert v.accepted and v.rule.startswith("-A IN_public_allow -p tcp -m tcp --dport 6082")
    closed = judge(text, ipt.Traffic(6080))
    assert closed.refused and closed.rule == "policy DROP of filter INPUT"  # RETURN, then INPUT's policy
    # a RETURN for part of the traffic before the chain's DROP: the rest is dropped, that part goes on
    partial_return = text.replace("-A IN_public_allow -j RETURN",
                                  "-A IN_public_allow -s 10.0.0.0/8 -j RETURN\n-A IN_public_allow -j DROP") \
        .replace("-A INPUT -j IN_public", "-A INPUT -j IN_public\n-A INPUT -p tcp --dport 6080 -j ACCEPT")
    v = judge(partial_return, ipt.Traffic(6080))
    assert v.uncertain and v.rule == "-A IN_public_allow -s 10.0.0.0/8 -j RETURN"


def test_policy_drop_with_an_accept():
    text = "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n" \
           "-A INPUT -p tcp -m tcp --dport 6082 -j ACCEPT\nCOMMIT\n"
    assert judge(text).accepted
    v = judge(text, ipt.Traffic(6080))
    assert v.refused and v.describe() == "refused by policy DROP of filter INPUT"
    # a policy set by a -P line of a hand-written file counts
    assert judge("*filter\n-P INPUT DROP\nCOMMIT\n").refused


def test_other_tables_on_the_way_count():
    raw_drop = "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -p tcp --dport 6082 -j DROP\n" \
               "COMMIT\n" + CONTROLLER
    assert judge(raw_drop).refused
    dnat = "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp --dport 6082 -j DNAT --to-destination 10.1.1.1\n" \
           "COMMIT\n" + CONTROLLER
    v = judge(dnat)
    assert v.uncertain and "DNAT" in v.rule and not v.partial
    assert judge("").accepted  # no rules at all: nothing filters


def test_storage_node_proxy_port():
    """SWF-5 on the lab's storage node rules (labbox/roles/storage/swift/iptables.rules, RDO/CentOS style)."""
    storage = (REPO / "labbox/roles/storage/swift/iptables.rules").read_text().replace("@LAB_NET@", "198.18.0.0/24")
    v = judge(storage, ipt.Traffic(8080))
    assert v.accepted and v.rule == "-A INPUT -p tcp -m conntrack --ctstate NEW -m tcp --dport 8080 -j ACCEPT"
    # the fault of the notes' firewall: the 8080 rule gone, RDO's final REJECT decides
    without = "\n".join(line for line in storage.splitlines() if "--dport 8080" not in line)
    assert judge(without, ipt.Traffic(8080)).describe() == \
        "refused by `-A INPUT -j REJECT --reject-with icmp-host-prohibited`"
    # the object server's 6201 is open to the lab network only: certain for the lab, uncertain from anywhere
    assert judge(storage, ipt.Traffic(6201, sources=("198.18.0.11",))).accepted
    assert judge(storage, ipt.Traffic(6201)).uncertain


# --- where a fixer puts the ACCEPT ---------------------------------------------------------------------------------
def test_accept_goes_before_the_first_rule_that_decides():
    appended = CONTROLLER.replace(f"-A INPUT {SPICE_RULE}\n", "").replace("COMMIT", f"-A INPUT {SPICE_RULE}\nCOMMIT", 1)
    tables = ipt.parse_save(appended)
    assert judge(appended).refused
    position = ipt.insert_position(tables, SPICE)
    assert position == CONTROLLER_REJECT_AT and tables["filter"].chain("INPUT")[position - 1].target == "REJECT"
    assert ipt.judge_port(ipt.with_rule_at(tables, SPICE_RULE, position), SPICE).accepted
    fixed = ipt.with_rule_in_file(appended, SPICE_RULE, SPICE)
    lines = fixed.splitlines()
    assert lines.index(f"-A INPUT {SPICE_RULE}") < lines.index("-A INPUT -j REJECT --reject-with icmp-host-prohibited")
    assert judge(fixed).accepted
    # a file with -I lines gets an -I line whose position is counted on the chain as it ends up
    inserted = CONTROLLER.replace(f"-A INPUT {SPICE_RULE}\n", "").replace("COMMIT", "-I INPUT 1 -j REJECT\nCOMMIT", 1)
    fixed = ipt.with_rule_in_file(inserted, SPICE_RULE, SPICE)
    assert f"-I INPUT 1 {SPICE_RULE}" in fixed and judge(fixed).accepted
    assert judge(ipt.with_rule_in_file("", SPICE_RULE, SPICE)).accepted


@pytest.mark.parametrize("line", ["-A INPUT -i eth0 -j REJECT", "-A INPUT ! -s 10.0.0.0/8 -j DROP"])
def test_insert_position_stops_at_a_partial_rule(line):
    tables = ipt.parse_save(before_first_input_rule(CONTROLLER, line))
    assert ipt.insert_position(tables, SPICE) == 1


# --- the fixers' planning (fixes/firewall.py): decline when uncertain, judge the result before planning -----------
def _ctx():
    from stackcheck.fixing import FixContext
    from stackcheck.transport import LocalTransport
    return FixContext(LocalTransport())


def test_fixer_moves_a_misplaced_accept_before_the_reject():
    from fixes import firewall
    appended = CONTROLLER.replace(f"-A INPUT {SPICE_RULE}\n", "").replace("COMMIT", f"-A INPUT {SPICE_RULE}\nCOMMIT", 1)
    ctx = _ctx()
    assert firewall.open_running(ctx, ipt.parse_save(appended), [SPICE], SPICE_RULE, "controller")
    assert [(a.do, a.undo) for a in ctx.actions] == [
        (f"iptables -D INPUT {SPICE_RULE}", f"iptables -A INPUT {SPICE_RULE}"),
        (f"iptables -I INPUT {CONTROLLER_REJECT_AT} {SPICE_RULE}", f"iptables -D INPUT {SPICE_RULE}")]
    already = _ctx()
    assert not firewall.open_running(already, ipt.parse_save(CONTROLLER), [SPICE], SPICE_RULE, "controller")
    assert already.empty


def test_fixer_declines_an_uncertain_ruleset_and_a_hopeless_opening():
    from fixes import firewall
    from stackcheck.fixing import FixDeclined
    partial = ipt.parse_save(before_first_input_rule(CONTROLLER, "-A INPUT -i eth0 -j REJECT"))
    with pytest.raises(FixDeclined, match=r"rule `-A INPUT -i eth0 -j REJECT` may match part of"):
        firewall.open_running(_ctx(), partial, [SPICE], SPICE_RULE, "controller")
    raw_drop = ipt.parse_save("*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp --dport 6082 -j DROP\nCOMMIT\n")
    with pytest.raises(FixDeclined, match=r"would not let .* through: refused by `-A PREROUTING"):
        firewall.open_running(_ctx(), raw_drop, [SPICE], SPICE_RULE, "controller")


def test_fixer_edits_a_persisted_file_through_the_engine(tmp_path):
    from fixes import firewall
    path = tmp_path / "rules.v4"
    path.write_text(CONTROLLER.replace("COMMIT", "-I INPUT 1 -j REJECT\nCOMMIT", 1))
    ctx = _ctx()
    assert firewall.open_in_file(ctx, str(path), path.read_text(), [SPICE], SPICE_RULE)
    [edit] = ctx.edits
    assert edit.validate == "iptables-restore --test {path}" and not ctx.actions
    assert judge(edit.new).accepted and f"-I INPUT 1 {SPICE_RULE}" in edit.diff()
    path.write_text(edit.new)
    assert not firewall.open_in_file(_ctx(), str(path), path.read_text(), [SPICE], SPICE_RULE)  # idempotent


# --- reading the rules: exit codes judged ------------------------------------------------------------------------
class Replay:
    """Answers commands with results captured on the lab (controller, Debian 12, iptables 1.8.9 nf_tables)."""

    name = "controller"

    def __init__(self, answers):
        self.answers = answers

    def run(self, command, stdin=None, timeout=None):
        from stackcheck.transport import Result
        return Result(*self.answers[command.split()[0]])


@pytest.mark.parametrize("rc, stderr, says", [
    (4, "iptables-save v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be "
        "root)\n", "permission denied"),
    (127, "sh: 1: iptables-save: not found\n", "command not found"),
])
def test_an_unreadable_ruleset_is_cannot_check_never_no_rule(rc, stderr, says):
    from stackcheck.verdicts import CannotCheck
    with pytest.raises(CannotCheck, match=says):
        ipt.read_running(Replay({"iptables-save": (rc, "", stderr)}))


def test_running_rules_and_interfaces_read_from_the_lab_controller():
    link = ("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\"
            "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n"
            "2: eth0@if6: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default "
            "qlen 1000\\    link/ether 02:5c:00:00:00:0b brd ff:ff:ff:ff:ff:ff link-netnsid 0\n")
    replay = Replay({"iptables-save": (0, CONTROLLER, ""), "names=$(cat": (0, "", ""), "ip": (0, link, "")})
    assert ipt.read_interfaces(replay) == ("eth0",)
    assert ipt.judge_port(ipt.read_running(replay), ipt.Traffic(6082, interfaces=("eth0",))).accepted
