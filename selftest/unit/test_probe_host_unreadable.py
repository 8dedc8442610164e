"""What the host family's probes make of reads that fail: a permission denied or a missing command is an error
naming what could not be read, never an empty ruleset judged as "nothing wrong" or as a confident finding.

The captures are the probes' own batched commands run on the lab's compute host over the suite's SSH connection,
as root and as `nobody` (`su nobody -s /bin/sh -c '<the probe command>'`), and on this machine, which has no
iptables, in a scratch network namespace (selftest/unit/data/host/)."""
from pathlib import Path

import pytest
import yaml

from stackcheck.inventory import load
from stackcheck.probes import arp, batch, compute, hostnet, hosts, services, sysctl
from stackcheck.transport import Result, Transport
from stackcheck.verdicts import CannotCheck
from tests_host import test_firewall, test_public_network

DATA = Path(__file__).parent / "data" / "host"
FLOATING = "198.19.0.2-198.19.0.14"
BLOCK = "198.19.0.0/28"


def text(name):
    return (DATA / name).read_text()


class Canned(Transport):
    """A host that answers every command with one captured output (exit 0: the batch's parts carry theirs)."""

    name = "compute"

    def __init__(self, output: str):
        self.output = output

    def run(self, command, stdin=None, timeout=None):
        return Result(0, self.output, "")


@pytest.fixture
def lab(tmp_path):
    inv = {"all": {"children": {"compute": {"hosts": {"compute": {"ansible_host": "198.18.0.14",
                                                                  "stackcheck_public_nic": "eth0"}}}}},
           "stackcheck": {"host": {"public_block": BLOCK, "floating_range": FLOATING}}}
    path = tmp_path / "inv.yaml"
    path.write_text(yaml.safe_dump(inv))
    return load(str(path))


# --- the batch: each part's stdout exact, its exit code and stderr kept -------------------------------------------------
def test_batch_parts_keep_exact_output_exit_code_and_reason():
    found = batch.parse("### a\nx\ny\n\n@@sc-rc@@ 0 a\n### b\nno newline\n@@sc-rc@@ 4 b\n@@sc-err@@ first\n"
                        "@@sc-err@@ iptables-save: Permission denied (you must be root)\n@@sc-err@@ advice\n"
                        "### c\n### not a header inside c\n\n@@sc-rc@@ 0 c\n### d\npartial")
    assert found.output("a", "A") == "x\ny\n"
    assert found.output("c", "C") == "### not a header inside c\n"
    with pytest.raises(CannotCheck, match=r"could not read B: permission denied \(iptables-save: Permission denied"):
        found.output("b", "B")
    with pytest.raises(CannotCheck, match="could not read D: the batched read did not reach it"):
        found.output("d", "D")  # the batch was cut short inside d: no status, no answer


def test_a_missing_file_is_none_an_unreadable_one_an_error():
    found = batch.parse(text("hostnet-lab-compute-nobody.txt"))
    assert found.file("/etc/sysconfig/iptables") is None
    with pytest.raises(CannotCheck, match="could not read /etc/iptables/rules.v4: permission denied"):
        found.file("/etc/iptables/rules.v4")


# --- hostnet as nobody: routes readable, every firewall unreadable ------------------------------------------------------
@pytest.fixture
def nobody():
    return hostnet.parse(text("hostnet-lab-compute-nobody.txt"))


def test_nobody_reads_addresses_and_routes(nobody):
    assert nobody.route_dev("198.19.0.5") == "virbr2" and "198.18.0.14" in nobody.local_ips()


@pytest.mark.parametrize("fact, words", [
    ("iptables", "the running iptables rules (`iptables-save`): permission denied"),
    ("iptables_text", "you must be root"),
    ("persisted_iptables", "could not read /etc/iptables/rules.v4: permission denied"),
    ("persisted_arp", "could not read /etc/iptables/arptables.rules: permission denied"),
    ("arp", "the nftables ruleset (`nft -j list ruleset`, for its arp tables): permission denied"),
])
def test_nobody_cannot_read_a_firewall_and_says_which(nobody, fact, words):
    """The old probe took these as empty: no iptables rules (HOST-4/5 found everything open), no persisted
    files ("not persisted"), no ARP rules (HOST-3 found every request passing): findings from nothing."""
    with pytest.raises(CannotCheck, match=words.replace("(", r"\(").replace(")", r"\)")):
        getattr(nobody, fact)


def test_host4_host5_host3_checks_end_in_error_as_nobody(lab):
    target = lab.host("compute")
    canned = Canned(text("hostnet-lab-compute-nobody.txt"))
    for check, args in ((test_firewall.test_public_nic_drops_what_is_not_for_the_floating_or_own_range,
                         dict(transport=canned, target=target, lab=lab, evidence={})),
                        (test_firewall.test_instances_cannot_reach_the_hop0_gateway,
                         dict(transport=canned, lab=lab, evidence={})),
                        (test_public_network.test_arp_filters_keep_to_the_public_list,
                         dict(transport=canned, target=target, lab=lab, evidence={}))):
        with pytest.raises(CannotCheck, match="permission denied"):
            check(**args)


def test_the_same_checks_pass_on_the_root_capture(lab):
    target = lab.host("compute")
    canned = Canned(text("hostnet-lab-compute.txt"))
    test_firewall.test_public_nic_drops_what_is_not_for_the_floating_or_own_range(canned, target, lab, {})
    test_firewall.test_instances_cannot_reach_the_hop0_gateway(canned, lab, {})
    test_public_network.test_arp_filters_keep_to_the_public_list(canned, target, lab, {})


def test_a_missing_iptables_is_an_error_not_an_open_host():
    """This machine has no iptables: `iptables-save: not found` (exit 127) is not "no rules"."""
    facts = hostnet.parse(text("hostnet-no-iptables.txt"))
    with pytest.raises(CannotCheck, match=r"could not read the running iptables rules.*command not found"):
        facts.iptables
    assert facts.persisted_iptables == {} and facts.arp.rule_count == 0  # absent, read: nothing is there


def test_ebtables_unreadable_matters_only_for_a_bridge_port():
    parts = batch.parse(text("hostnet-lab-compute.txt"))
    parts["ebtables"] = batch.Part("ebtables", "", 4, ["ebtables-save v1.8.9 (nf_tables): Could not fetch rule set "
                                                       "generation id: Permission denied (you must be root)"])
    rs = arp.ruleset_from_parts(parts)
    assert rs.verdict(arp.ArpPacket("in", "eth0", "198.18.0.1", "192.0.2.77")).dropped
    with pytest.raises(CannotCheck, match="ebtables-save.*eth0 is a bridge port"):
        rs.verdict(arp.ArpPacket("in", "br0", "198.18.0.1", "192.0.2.77", port="eth0", bridge="br0"))


# --- the other batched probes -------------------------------------------------------------------------------------------
def test_nova_conf_unreadable_is_an_error_not_the_other_files_virt_type():
    """As nobody, /etc/nova/nova.conf (0640 root:nova) cannot be read: the old probe skipped it (`[ -r ]`) and
    judged virt_type from nova-compute.conf alone."""
    with pytest.raises(CannotCheck, match="could not read /etc/nova/nova.conf: permission denied"):
        compute.parse(text("compute-facts-lab-nobody.txt"))
    root = compute.parse(text("compute-facts-lab.txt"))
    assert root.virt_type == "kvm" and root.nova.running and root.vm == "kvm"


def test_systemd_detect_virt_failing_is_unknown_not_bare_metal():
    broken = text("compute-facts-lab.txt").replace("### vm\nkvm\n\n@@sc-rc@@ 0 vm",
                                                    "### vm\n\n@@sc-rc@@ 127 vm\n@@sc-err@@ sh: 1: systemd-detect-virt: not found")
    facts = compute.parse(broken)
    assert facts.vm is None and "command not found" in facts.vm_unknown


def test_what_nobody_may_read_is_judged_for_real():
    """/etc/hosts, getent, the sysctl files and systemctl are world-readable: as nobody they are real answers."""
    names = hosts.names_from(batch.parse(text("hosts-lab-compute-nobody.txt")))
    assert hosts.problems(names.hostname, names.fqdn, hosts.parse_hosts(names.hosts), names.first, "198.18.0.14") == []
    parts = batch.parse(text("sysctl-lab-compute-nobody.txt"))
    files = sysctl.files_from(parts)
    assert sysctl.persisted(files, "net.ipv4.conf.eth0.proxy_arp")[0] == "1"
    assert sysctl.running_from(parts, "net.ipv4.conf.eth0.proxy_arp") == "1"
    units = services.units_from(batch.parse(text("services-lab-compute.txt")), services.UNWANTED)
    assert not units["NetworkManager"].exists and units["firewalld"].enabled == "disabled"


def test_an_unreadable_sysctl_directory_or_file_is_an_error():
    parts = batch.parse(text("sysctl-lab-compute-nobody.txt"))
    parts["dir /etc/sysctl.d"] = batch.Part("dir /etc/sysctl.d", "", 2, ["ls: cannot open directory '/etc/sysctl.d': "
                                                                          "Permission denied"])
    with pytest.raises(CannotCheck, match="could not read the directory /etc/sysctl.d"):
        sysctl.files_from(parts)


def test_systemctl_failing_is_an_error_not_a_missing_unit():
    parts = batch.parse("### firewalld.service\n\n@@sc-rc@@ 1 firewalld.service\n"
                        "@@sc-err@@ System has not been booted with systemd as init system (PID 1). Can't operate.\n")
    with pytest.raises(CannotCheck, match="the state of firewalld.service"):
        services.units_from(parts, ["firewalld"])
