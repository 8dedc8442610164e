"""The host family's pure parsers and evaluators, on output captured on this machine (Debian 12, iptables /
arptables / ebtables 1.8.9 nft and legacy, nftables 1.0.6, LVM 2.03.16) in a scratch network namespace set up
like the lab's compute host (selftest/unit/data/host/)."""
from pathlib import Path

import pytest

from stackcheck.probes import arp, hostnet, hosts, lvm, sysctl
from stackcheck.probes import iptables as ipt

DATA = Path(__file__).parent / "data" / "host"
FLOATING = "198.19.0.2-198.19.0.14"
BLOCK = "198.19.0.0/28"


def text(name):
    return (DATA / name).read_text()


# --- iptables ----------------------------------------------------------------------------------------------------
@pytest.fixture
def compute_tables():
    return ipt.parse_save(text("iptables-save-compute.txt"))


def test_iptables_save_parses_tables_chains_and_rules(compute_tables):
    assert set(compute_tables) == {"raw", "filter"}
    assert compute_tables["raw"].policies["public-nic-in"] == "-"
    assert [r.target for r in compute_tables["raw"].chain("public-nic-in")] == ["RETURN", "RETURN", "DROP"]
    assert compute_tables["filter"].chain("INPUT")[-1].target == "REJECT"


def test_public_nic_drop_is_judged_by_meaning(compute_tables):
    path = ipt.inbound_path(local=False)
    for dst in ("198.18.64.5", "198.19.0.15", "192.0.2.77"):
        v = ipt.evaluate(compute_tables, path, ipt.Packet("198.18.0.1", dst, iif="eth0"))
        assert v.denied, (dst, v)
    assert "public-nic-in" in str(ipt.evaluate(compute_tables, path, ipt.Packet("198.18.0.1", "198.18.64.5", iif="eth0")))
    for dst in ("198.19.0.2", "198.19.0.14"):
        assert ipt.evaluate(compute_tables, path, ipt.Packet("198.18.0.1", dst, iif="eth0")).allowed
    # the NIC's own range reaches INPUT, and another interface is not filtered at all
    assert ipt.evaluate(compute_tables, ipt.inbound_path(True), ipt.Packet("198.18.0.1", "198.18.0.14", iif="eth0")).allowed
    assert ipt.evaluate(compute_tables, path, ipt.Packet("198.18.64.9", "192.0.2.77", iif="eth1")).allowed


def test_removing_the_jump_makes_the_nic_open(compute_tables):
    compute_tables["raw"].rules["PREROUTING"] = []
    v = ipt.evaluate(compute_tables, ipt.inbound_path(False), ipt.Packet("198.18.0.1", "198.18.64.5", iif="eth0"))
    assert not v.denied and v.outcomes == {"ACCEPT"}


def test_hop0_reject_and_what_libvirt_lets_through(compute_tables):
    path = ipt.inbound_path(True)
    ssh = ipt.evaluate(compute_tables, path, ipt.Packet("198.19.0.2", "198.19.0.1", iif="virbr2", dport=22))
    assert ssh.outcomes == {"REJECT"}
    dns = ipt.evaluate(compute_tables, path, ipt.Packet("198.19.0.2", "198.19.0.1", iif="virbr2", proto="udp", dport=53))
    assert dns.outcomes == {"ACCEPT"} and "LIBVIRT_INP" in str(dns)
    established = ipt.evaluate(compute_tables, path,
                               ipt.Packet("198.19.0.2", "198.19.0.1", iif="virbr2", dport=22, state="ESTABLISHED"))
    assert established.allowed


def test_an_unknown_match_is_not_a_certain_verdict():
    tables = ipt.parse_save("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m physdev --physdev-in vnet0 -j DROP\nCOMMIT\n")
    v = ipt.evaluate(tables, ipt.inbound_path(True), ipt.Packet("1.2.3.4", "5.6.7.8", iif="eth0"))
    assert not v.denied and not v.allowed and v.outcomes == {"ACCEPT", "DROP"}


def test_negations_ranges_multiport_and_goto():
    tables = ipt.parse_save("""*filter
:INPUT DROP [3:120]
:FORWARD ACCEPT [0:0]
:X - [0:0]
-A INPUT ! -i eth0 -j ACCEPT
-A INPUT -p tcp -m multiport --dports 22,6082 -j ACCEPT
-A INPUT -m iprange ! --src-range 10.0.0.1-10.0.0.9 -g X
COMMIT
""")
    path = ipt.inbound_path(True)
    assert ipt.evaluate(tables, path, ipt.Packet("10.0.0.5", "1.1.1.1", iif="eth1", dport=80)).allowed
    assert ipt.evaluate(tables, path, ipt.Packet("10.0.0.5", "1.1.1.1", iif="eth0", dport=6082)).allowed
    assert ipt.evaluate(tables, path, ipt.Packet("10.0.0.5", "1.1.1.1", iif="eth0", dport=80)).denied  # policy DROP
    # goto X (empty): returns from INPUT itself, i.e. INPUT's policy
    assert ipt.evaluate(tables, path, ipt.Packet("10.0.0.50", "1.1.1.1", iif="eth0", dport=80)).denied


def test_ensure_rules_adds_only_what_is_missing():
    base = text("iptables-save-compute.txt")
    rule = "-A INPUT -i virbr2 -s 198.19.0.0/28 -d 198.19.0.1/32 -j REJECT"
    once = ipt.ensure_rules(base, "filter", ["HOP0"], [rule])
    assert ":HOP0 - [0:0]" in once and rule in once
    assert once.index(":HOP0") < once.index(rule) < once.index("COMMIT", once.index("*filter"))
    assert ipt.ensure_rules(once, "filter", ["HOP0"], [rule]) == once
    fresh = ipt.ensure_rules("", "raw", ["C"], ["-A PREROUTING -j C"])
    assert fresh == "*raw\n:C - [0:0]\n-A PREROUTING -j C\nCOMMIT\n"
    assert ipt.parse_save(fresh)["raw"].chain("PREROUTING")[0].target == "C"


# --- host facts and the requirement packets --------------------------------------------------------------------------
@pytest.fixture
def facts():
    # captured before reads became parts with exit codes (all read as root): converted, each part exit 0
    return hostnet.parse(text("hostnet-compute.txt"))


def test_hostnet_facts(facts):
    assert facts.local_ips() >= {"198.18.0.14", "198.19.0.1", "198.18.64.1"}
    assert facts.route_dev("198.19.0.5") == "virbr2"
    assert facts.route_dev("8.8.8.8") == "eth0"
    assert facts.ssh == ("198.18.0.1", 53122, "198.18.0.14", 22)
    assert {"raw", "filter"} <= set(facts.iptables)


def test_host4_probes_come_from_the_host_itself(facts):
    probes = hostnet.public_nic_probes(facts, "eth0", FLOATING, BLOCK)
    denied = {p.dst: why for p, deny, why in probes if deny}
    allowed = {p.dst for p, deny, _ in probes if not deny}
    assert {"198.18.64.1", "198.19.0.1", "198.19.0.15", "192.0.2.77"} <= set(denied)
    assert {"198.19.0.2", "198.19.0.14", "198.18.0.14"} <= allowed
    for pkt, deny, why in probes:
        v = hostnet.verdict(facts.iptables, facts, pkt)
        assert v.denied if deny else not v.denied, (pkt.describe(), why, str(v))


def test_host5_probes(facts):
    for pkt, _what in hostnet.hop0_probes(facts, "virbr2", FLOATING):
        assert hostnet.verdict(facts.iptables, facts, pkt).outcomes == {"REJECT"}


def test_ssh_session_survives_the_rules(facts):
    pkt = hostnet.ssh_packet(facts)
    assert pkt.iif == "eth0" and pkt.state == "ESTABLISHED"
    assert not hostnet.verdict(facts.iptables, facts, pkt).denied
    for a in hostnet.ssh_arp_packets(facts):
        assert facts.arp.verdict(a).passes, a.describe()


# --- ARP filters from every backend ----------------------------------------------------------------------------------
ALLOWED = ["198.18.0.14", BLOCK]
OUTSIDE = [("198.18.64.1", "data network"), ("192.0.2.77", "nowhere")]


def _judge(ruleset, bridge=None):
    results = []
    for p in arp.filter_probes("eth0", ["198.18.0.14", "198.19.0.0", "198.19.0.15"], OUTSIDE, "198.18.0.1", bridge):
        v = ruleset.verdict(p.packet)
        results.append((p.packet.describe(), p.want_dropped, v.dropped, v.passes))
    return results


def _assert_right(results):
    for desc, want_dropped, dropped, passes in results:
        assert dropped if want_dropped else passes, desc


def test_arptables_nft_rules_read_from_nft_json():
    tables = arp.parse_nft_json(text("nft-arptables-nft.json"))
    assert [t.name for t in tables] == ["filter"]
    _assert_right(_judge(arp.ArpRuleset(tables)))


def test_native_nft_arp_table_with_a_named_set():
    tables = arp.parse_nft_json(text("nft-native-arp.json"))
    assert tables[0].hooks == {"out": ["out"], "in": ["in"]}
    _assert_right(_judge(arp.ArpRuleset(tables)))


def test_arptables_listing_nft_and_legacy():
    _assert_right(_judge(arp.ArpRuleset([arp.parse_arptables_list(text("arptables-nft-L.txt"))])))
    legacy = arp.parse_arptables_list(text("arptables-legacy-L.txt"), "arptables-legacy")
    v = arp.ArpRuleset([legacy]).verdict(arp.ArpPacket("in", "eth0", "198.18.0.1", "198.18.64.1"))
    assert v.dropped
    v = arp.ArpRuleset([legacy]).verdict(arp.ArpPacket("out", "eth0", "198.18.64.1", "198.18.0.1"))
    assert v.dropped
    # legacy rules for a target inside 198.19.0.0/28 pass (outside the NIC's own address: that is the point)
    assert arp.ArpRuleset([legacy]).verdict(arp.ArpPacket("in", "eth0", "198.18.0.1", "198.19.0.3")).passes


def test_arptables_save_format():
    t = arp.parse_arptables_save(text("arptables-nft-save.txt"))
    _assert_right(_judge(arp.ArpRuleset([t])))


def test_ebtables_apply_only_to_a_bridge_port():
    tables = arp.parse_ebtables_save(text("ebtables-nft-save.txt"))
    rs = arp.ArpRuleset([], tables)
    # eth0 enslaved to br0: the incoming chain drops requests for the data network
    v = rs.verdict(arp.ArpPacket("in", "br0", "198.18.0.1", "198.18.64.1", port="eth0", bridge="br0"))
    assert v.dropped
    assert rs.verdict(arp.ArpPacket("in", "br0", "198.18.0.1", "198.19.0.3", port="eth0", bridge="br0")).passes
    assert rs.verdict(arp.ArpPacket("out", "br0", "198.18.64.1", "198.18.0.1", port="eth0", bridge="br0")).dropped
    # a routed NIC: bridge rules never see its frames
    assert rs.verdict(arp.ArpPacket("in", "eth0", "198.18.0.1", "198.18.64.1")).passes


def test_no_rules_means_nothing_is_dropped():
    v = arp.ArpRuleset([]).verdict(arp.ArpPacket("in", "eth0", "198.18.0.1", "198.18.64.1"))
    assert v.passes and not v.dropped


def test_public_list_helpers():
    assert arp.representative(BLOCK) == ["198.19.0.0", "198.19.0.15"]
    assert arp.representative(FLOATING) == ["198.19.0.2", "198.19.0.14"]
    assert arp.in_list("198.19.0.9", [FLOATING]) and not arp.in_list("198.19.0.1", [FLOATING])


# --- sysctl.d order ----------------------------------------------------------------------------------------------------
def test_sysctl_persisted_value_follows_systemd_order():
    files = {
        "/usr/lib/sysctl.d/50-default.conf": "net.ipv4.conf.*.proxy_arp = 0\n",
        "/etc/sysctl.d/60-public-nic.conf": "# proxy ARP\nnet.ipv4.conf.eth0.proxy_arp = 1\n",
        "/etc/sysctl.d/99-late.conf": "; nothing\n",
    }
    assert sysctl.persisted(files, "net.ipv4.conf.eth0.proxy_arp") == ("1", "/etc/sysctl.d/60-public-nic.conf")
    files["/etc/sysctl.d/99-late.conf"] = "net/ipv4/conf/eth0/proxy_arp=0\n"
    assert sysctl.persisted(files, "net.ipv4.conf.eth0.proxy_arp") == ("0", "/etc/sysctl.d/99-late.conf")
    # a file in /etc masks the same name in /usr/lib
    files = {"/usr/lib/sysctl.d/60-public-nic.conf": "net.ipv4.conf.eth0.proxy_arp = 1\n",
             "/etc/sysctl.d/60-public-nic.conf": "net.ipv4.conf.eth0.proxy_arp = 0\n"}
    assert sysctl.persisted(files, "net.ipv4.conf.eth0.proxy_arp")[0] == "0"
    assert sysctl.persisted({}, "net.ipv4.conf.eth0.proxy_arp") == (None, None)
    files = {"/etc/sysctl.conf": "net.ipv4.conf.all.proxy_arp=1\n"}
    assert sysctl.persisted(files, "net.ipv4.conf.all.proxy_arp") == ("1", "/etc/sysctl.conf")


# --- /etc/hosts ----------------------------------------------------------------------------------------------------
DEBIAN_HOSTS = """127.0.0.1\tlocalhost
127.0.1.1\tcompute

# The following lines are desirable for IPv6 capable hosts
::1     localhost ip6-localhost ip6-loopback
198.18.0.11 controller
198.18.0.14 compute
"""


def test_hosts_problems_and_fix():
    entries = hosts.parse_hosts(DEBIAN_HOSTS)
    found = hosts.problems("compute", "compute", entries, "127.0.1.1", "198.18.0.14")
    assert any("127.0.1.1" in p for p in found)
    fixed = hosts.fixed_hosts(DEBIAN_HOSTS, "compute", "compute", "198.18.0.14")
    assert "127.0.1.1" not in fixed and "198.18.0.11 controller" in fixed and "localhost" in fixed
    assert hosts.problems("compute", "compute", hosts.parse_hosts(fixed), "198.18.0.14", "198.18.0.14") == []
    assert hosts.fixed_hosts(fixed, "compute", "compute", "198.18.0.14") == fixed
    missing = hosts.fixed_hosts("127.0.0.1 localhost\n", "db1", "db1.lab", "198.18.0.15")
    assert missing == "127.0.0.1 localhost\n198.18.0.15 db1.lab db1\n"


def test_getent_first_address():
    assert hosts.first_getent("198.18.0.14     STREAM compute\n198.18.0.14     DGRAM\n") == "198.18.0.14"
    assert hosts.first_getent("") is None


# --- vgs ------------------------------------------------------------------------------------------------------------
def test_vgs_cinder_volumes():
    vgs = lvm.parse_vgs(text("vgs-cinder-volumes.txt"))
    assert vgs["cinder-volumes"].size == 62914560 and vgs["cinder-volumes"].pvs == 1
    assert lvm.parse_vgs("") == {}


# --- the lab's compute host, captured with libvirt's own chains in place ---------------------------------------------
@pytest.fixture
def lab_facts():
    return hostnet.parse(text("hostnet-lab-compute.txt"))  # hostnet.READ_COMMAND as root over the suite's SSH


def test_lab_compute_passes_host3_to_host5(lab_facts):
    assert set(lab_facts.persisted_iptables) == {"/etc/iptables/rules.v4"}
    assert set(lab_facts.persisted_arp) == {"/etc/iptables/arptables.rules"}
    for pkt, deny, why in hostnet.public_nic_probes(lab_facts, "eth0", FLOATING, BLOCK):
        v = hostnet.verdict(lab_facts.iptables, lab_facts, pkt)
        assert v.denied if deny else not v.denied, (pkt.describe(), why, str(v))
    for pkt, _ in hostnet.hop0_probes(lab_facts, "virbr2", FLOATING):
        assert hostnet.verdict(lab_facts.iptables, lab_facts, pkt).outcomes == {"REJECT"}
    # libvirt's own INPUT rule lets DNS from the instances through to hop 0: the checks do not claim otherwise
    dns = ipt.Packet("198.19.0.2", "198.19.0.1", iif="virbr2", proto="udp", dport=53)
    assert hostnet.verdict(lab_facts.iptables, lab_facts, dns).allowed
    for p in arp.filter_probes("eth0", ["198.18.0.14", "198.19.0.0", "198.19.0.15"],
                               [("198.18.64.1", "data"), ("192.0.2.77", "nowhere")], "198.18.0.1"):
        v = lab_facts.arp.verdict(p.packet)
        assert v.dropped if p.want_dropped else v.passes, p.packet.describe()


def test_lab_forwarding_to_floating_addresses_is_libvirts_accept(lab_facts):
    v = hostnet.verdict(lab_facts.iptables, lab_facts, ipt.Packet("198.18.0.1", "198.19.0.5", iif="eth0"))
    assert v.outcomes == {"ACCEPT"} and "LIBVIRT_FWI" in str(v)


# --- libvirt XML (written by libvirt 9.0 on the lab's compute host) --------------------------------------------------
def test_libvirt_network_and_domain_facts():
    from stackcheck.probes.libvirt import domain_facts, network_facts

    ext = network_facts(text("libvirt-net-external.xml"), active=True, autostart=True, persistent=True)
    assert (ext.name, ext.bridge, ext.forward_mode, ext.addresses) == ("external", "virbr2", "route", ["198.19.0.1/28"])
    data = network_facts(text("libvirt-net-openstack-data.xml"))
    assert (data.bridge, data.forward_mode, data.addresses) == ("eth1", "nat", ["198.18.64.1/24"])
    dom = domain_facts(text("libvirt-dom-network.xml"), autostart=True, persistent=True)
    assert dom.name == "network" and dom.type == "kvm" and dom.networks == ["openstack-data", "external"]
    isolated = network_facts("<network><name>iso</name><bridge name='virbr9'/></network>")
    assert isolated.forward_mode is None and isolated.addresses == []


# --- the judgements shared by checks and fixers, and the fixers' pure file editors ------------------------------------
def test_judgements_on_the_lab_capture(lab_facts):
    assert hostnet.host4_wrong(lab_facts.iptables, lab_facts, "eth0", FLOATING, BLOCK) == []
    assert hostnet.host5_wrong(lab_facts.iptables, lab_facts, "virbr2", FLOATING) == []
    allowed = hostnet.public_list(None, BLOCK, lab_facts, "eth0")
    assert allowed == ["198.18.0.14", BLOCK]
    assert hostnet.arp_wrong(lab_facts, lab_facts.arp, "eth0", allowed) == []
    assert hostnet.arp_wrong(lab_facts, hostnet.persisted_arp_ruleset(lab_facts), "eth0", allowed) == []
    narrow = hostnet.arp_wrong(lab_facts, lab_facts.arp, "eth0", [BLOCK])
    assert narrow and all("198.18.0.14" in w for w in narrow)
    opened = ipt.parse_save(text("iptables-save-lab-compute.txt").replace("-A PREROUTING -i eth0 -j public-nic-in\n", ""))
    wrong = hostnet.host4_wrong(opened, lab_facts, "eth0", FLOATING, BLOCK)
    assert any("198.18.64.1" in w and "expected dropped" in w for w in wrong)


def test_fixer_file_editors():
    from fixes import host_network as hn

    rules, jumps = hn._arp_rules("eth0", ["198.18.0.14", "198.19.0.2-198.19.0.5"])
    assert "-A public-arp-in -j ACCEPT -d 198.19.0.2/31" in rules and "-A public-arp-in -j ACCEPT -d 198.19.0.4/31" in rules
    broken = text("arptables-nft-save.txt").replace("-A public-arp-in -j DROP\n", "")
    fixed = hn._arp_file_with(broken, rules, jumps)
    assert fixed.count("-A INPUT -j public-arp-in") == 1 and fixed.rstrip().endswith("-A public-arp-out -j DROP")
    t = arp.parse_arptables_save(fixed)
    assert arp.ArpRuleset([t]).verdict(arp.ArpPacket("in", "eth0", "198.18.0.1", "198.18.64.1")).dropped
    assert hn._arp_file_with(fixed, rules, jumps) == fixed
    first = hn._insert_first(text("iptables-save-lab-compute.txt"), "filter", "INPUT", "-A INPUT -j X")
    lines = first.splitlines()
    assert lines.index("-A INPUT -j X") < lines.index("-A INPUT -j LIBVIRT_INP")
    fresh = hn._insert_first("", "raw", "PREROUTING", "-A PREROUTING -i eth0 -j public-nic-in")
    assert fresh == "*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -i eth0 -j public-nic-in\nCOMMIT\n"


def test_networkmanager_stop_is_refused_when_it_carries_the_ssh_session(lab_facts):
    """NetworkManager manages eth0 (the SSH session's interface) and nothing else names eth0: refuse; once
    /etc/network/interfaces configures it, stopping NetworkManager is safe."""
    from fixes.host_services import _nm_would_cut_ssh
    from stackcheck.transport import Result

    class Ctx:
        def __init__(self, other_config):
            self.other = other_config

        def run(self, cmd):
            if cmd.startswith("nmcli"):
                return Result(0, "eth0:connected\neth1:unmanaged\nlo:unmanaged\n", "")
            return Result(0 if self.other else 1, "/etc/network/interfaces\n" if self.other else "", "")

    assert "manages eth0" in _nm_would_cut_ssh(Ctx(False), lab_facts)
    assert _nm_would_cut_ssh(Ctx(True), lab_facts) is None


def test_iptables_save_with_counters():
    t = ipt.parse_save("*filter\n:INPUT ACCEPT [10:600]\n[3:180] -A INPUT -i eth0 -p tcp --dport 22 -j DROP\nCOMMIT\n")
    assert ipt.evaluate(t, ipt.inbound_path(True), ipt.Packet("1.1.1.1", "2.2.2.2", iif="eth0")).denied


def test_iptables_fix_refuses_rules_that_drop_its_ssh_session(lab_facts):
    from fixes.host_network import _refuse_if_cuts_ssh
    from stackcheck.fixing import FixRefused

    base = text("iptables-save-lab-compute.txt")
    _refuse_if_cuts_ssh(lab_facts, base, "the lab's rules")  # the session survives the lab's own rules
    # a public-nic-in chain written for another network (the NIC's own range forgotten) drops the session
    cut = base.replace("-A public-nic-in -d 198.18.0.0/24 -j RETURN\n", "")
    with pytest.raises(FixRefused, match="would cut this SSH session"):
        _refuse_if_cuts_ssh(lab_facts, cut, "dropping what eth0 receives")


def test_arp_rules_persisted_in_nftables_conf(lab_facts):
    """/etc/nftables.conf with a native `table arp`, as the probe lists it (loaded in a throwaway netns)."""
    kept = hostnet.NetFacts(persisted_arp={"/etc/nftables.conf": text("nft-native-arp.json")})
    rs = hostnet.persisted_arp_ruleset(kept)
    allowed = ["198.18.0.14", BLOCK]
    assert hostnet.arp_wrong(lab_facts, rs, "eth0", allowed) == []
    assert hostnet.arp_wrong(lab_facts, hostnet.persisted_arp_ruleset(hostnet.NetFacts(
        persisted_arp={"/etc/nftables.conf": ""})), "eth0", allowed)


def test_iproute2_text_forms_give_the_same_facts(lab_facts):
    """CentOS 7's iproute2 has no -j: `ip -o addr`, `ip route`, `ip -o link` give the same facts."""
    addr, route, link = [], [], []
    for line in text("ip-text-lab-compute.txt").splitlines():
        (addr if " inet " in line else link if line.split()[0].endswith(":") else route).append(line)
    blob = "".join(f"### {name}\n#text\n" + "\n".join(lines) + f"\n\n@@sc-rc@@ 0 {name}\n"
                   for name, lines in (("addr", addr), ("route", route), ("link", link)))
    f = hostnet.parse(blob)
    assert {k: [str(i) for i in v] for k, v in f.addrs.items()} == \
        {k: [str(i) for i in v] for k, v in lab_facts.addrs.items() if k in f.addrs}
    assert f.route_dev("198.19.0.5") == "virbr2" and f.route_dev("198.18.64.9") == "eth1"
    assert hostnet._text_routes("default via 198.18.0.1 dev eth0 metric 100\n")[0] == \
        {"dst": "default", "gateway": "198.18.0.1", "dev": "eth0", "metric": "100"}
    assert hostnet._text_links("3: eth0@if4: <UP> mtu 1500 master br0 state UP\n") == [{"ifname": "eth0", "master": "br0"}]


def test_unit_states_also_from_systemd_219_and_sysv():
    from stackcheck.probes import services

    text_ = """### network.service
LoadState=loaded
ActiveState=active
Enabled=enabled
### NetworkManager.service
LoadState=loaded
ActiveState=inactive
Enabled=disabled
### firewalld.service
LoadState=not-found
ActiveState=inactive
Enabled=
"""
    units = services.parse(text_)
    assert units["network"].is_enabled and units["network"].running
    assert not units["NetworkManager"].running and not units["NetworkManager"].is_enabled
    assert not units["firewalld"].exists and units["firewalld"].describe() == "firewalld: not installed"


def test_compute_facts_from_the_lab():
    from stackcheck.probes import compute

    f = compute.parse(text("compute-facts-lab.txt"))
    assert f.nova.name == "nova-compute" and f.nova.running and f.nova.is_enabled
    assert f.has_kvm_device and f.vm == "kvm" and f.virt_type == "kvm"
    qemu = text("compute-facts-lab.txt").replace("virt_type=kvm", "virt_type=qemu")
    assert compute.parse(qemu).virt_type == "qemu"
    gone = compute.parse("### kvm\nno /dev/kvm\n@@sc-rc@@ 0 kvm\n### vm\nnone\n@@sc-rc@@ 1 vm\n"
                         "### /etc/nova/nova.conf\n\n@@sc-rc@@ 3 /etc/nova/nova.conf\n"
                         "### /etc/nova/nova-compute.conf\n\n@@sc-rc@@ 3 /etc/nova/nova-compute.conf\n"
                         + "".join(f"### unit {u}.service\nLoadState=not-found\nActiveState=inactive\nEnabled=\n\n"
                                   f"@@sc-rc@@ 0 unit {u}.service\n" for u in compute.NOVA_UNITS))
    assert not gone.has_kvm_device and gone.vm == "none" and gone.nova is None and gone.virt_type == "kvm"


RHEL7_SYSCONFIG_IPTABLES = """# sample configuration for iptables service
# you can edit this manually or use system-config-firewall
# please do not ask us to add additional ports/services to this default configuration
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p icmp -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT
-A INPUT -j REJECT --reject-with icmp-host-prohibited
-A FORWARD -j REJECT --reject-with icmp-host-prohibited
COMMIT
"""


def test_rhel7_default_iptables_file(lab_facts):
    """The /etc/sysconfig/iptables that CentOS 7's iptables-services installs (the notes' host): starting the
    service keeps an SSH session; it lets the instances ssh and ping hop 0 (HOST-5 fails, naming the ACCEPT
    rules); and it rejects every new forwarded packet, the floating range's too (HOST-4 fails the other way)."""
    from fixes.host_network import _refuse_if_cuts_ssh

    _refuse_if_cuts_ssh(lab_facts, RHEL7_SYSCONFIG_IPTABLES, "starting iptables")
    tables = ipt.parse_save(RHEL7_SYSCONFIG_IPTABLES)
    wrong = hostnet.host5_wrong(tables, lab_facts, "virbr2", FLOATING)
    assert len(wrong) == 2 and "tcp/22" in wrong[0] and "--dport 22 -j ACCEPT" in wrong[0] and "icmp" in wrong[1]
    # everything new from outside is rejected, floating addresses included: "drop everything" is not the policy
    wrong4 = hostnet.host4_wrong(tables, lab_facts, "eth0", FLOATING, BLOCK)
    assert any("198.19.0.2" in w and "expected to get through" in w for w in wrong4)


def test_sysctl_set_wins_over_the_line_that_turned_it_off():
    from fixes.host_network import sysctl_set

    key = "net.ipv4.conf.eth0.proxy_arp"
    hardening = "# hardening\nnet.ipv4.conf.*.proxy_arp = 0\nnet.ipv4.conf.all.rp_filter = 1\n"
    fixed = sysctl_set(hardening, key, "1")
    assert fixed == "# hardening\nnet.ipv4.conf.*.proxy_arp = 0\nnet.ipv4.conf.eth0.proxy_arp = 1\nnet.ipv4.conf.all.rp_filter = 1\n"
    assert sysctl.persisted({"/etc/sysctl.d/99-hardening.conf": fixed}, key)[0] == "1"
    own = "net.ipv4.conf.eth0.proxy_arp=0\nnet.ipv4.ip_forward = 1\n"
    assert sysctl_set(own, key, "1") == "net.ipv4.conf.eth0.proxy_arp = 1\nnet.ipv4.ip_forward = 1\n"
    assert sysctl_set("", key, "1", "# why") == "# why\nnet.ipv4.conf.eth0.proxy_arp = 1\n"
    assert sysctl_set(sysctl_set(hardening, key, "1"), key, "1") == fixed


def test_capabilities_offer_kvm():
    from stackcheck.probes.libvirt import domain_types

    xml = text("libvirt-capabilities.xml")
    assert domain_types(xml) == {"qemu", "kvm"}
    assert domain_types(xml.replace("<domain type='kvm'", "<domain type='qemu'")) == {"qemu"}


def test_arptables_legacy_save_prints_no_rules_hence_the_listing():
    """Debian 12's arptables-legacy-save printed only the chain headers for a table with 4 rules (captured in the
    same namespace as arptables-legacy-L.txt): legacy ARP rules are read from `arptables-legacy -L -n`."""
    saved = arp.parse_arptables_save(text("arptables-legacy-save.txt"))
    listed = arp.parse_arptables_list(text("arptables-legacy-L.txt"))
    assert sum(map(len, saved.chains.values())) == 0 and sum(map(len, listed.chains.values())) == 8
