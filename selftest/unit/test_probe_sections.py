"""The splitter every batched probe shares: what a header is, and what is content that only looks like one."""
from stackcheck.probes import sections, sysctl


def test_split_keeps_each_section_with_its_newlines_and_drops_what_precedes_the_first_header():
    text = "motd noise\n### hostname\ncompute\n### hosts\n127.0.0.1 localhost\n198.18.0.5 compute\n### empty\n"
    assert sections.split(text) == {
        "hostname": "compute\n",
        "hosts": "127.0.0.1 localhost\n198.18.0.5 compute\n",
        "empty": "",
    }


def test_split_with_is_name_leaves_a_header_like_comment_inside_a_file():
    # a sysctl file may hold "### ..." comments; only a header naming an absolute path opens a section
    text = "### /etc/sysctl.d/60-arp.conf\n### proxy ARP for the public block\nnet.ipv4.conf.eth0.proxy_arp = 1\n"
    files = sections.split(text, is_name=lambda name: name.startswith("/"))
    assert files == {"/etc/sysctl.d/60-arp.conf": "### proxy ARP for the public block\n"
                                                  "net.ipv4.conf.eth0.proxy_arp = 1\n"}
    assert sysctl.persisted(files, "net.ipv4.conf.eth0.proxy_arp") == ("1", "/etc/sysctl.d/60-arp.conf")


def test_fields_reads_key_value_lines_of_a_section_and_ignores_the_rest():
    body = "Name:           openstack-data\nUUID:  1f0c\nActive:         yes\nno separator here\n"
    assert sections.fields(body, ":") == {"Name": "openstack-data", "UUID": "1f0c", "Active": "yes"}
    assert sections.fields("LoadState=loaded\nEnabled=\n", "=") == {"LoadState": "loaded", "Enabled": ""}
