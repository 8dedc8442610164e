"""Host family (VIRT, HOST): the single physical host of the notes, its libvirt networks and VMs, how the public
block reaches it (route, proxy ARP), its ARP filters and iptables, its services, and names on every node.

    test_libvirt.py          VIRT-1..4   libvirt-python over the run's SSH connection (probes/libvirt.py)
    test_public_network.py   HOST-1..3   route of the public block, proxy_arp (running + sysctl.d), ARP filters
    test_firewall.py         HOST-4, 5   the public NIC's drop rule, hop 0 rejected (running + persisted)
    test_services.py         HOST-6      NetworkManager/firewalld off, network and iptables services on
    test_names.py            HOST-7      the hostname resolves to the node's address (every node)
    test_volume_group.py     HOST-8      cinder-volumes on the storage node

Firewalls are judged by meaning: probes/iptables.py and probes/arp.py walk a packet through the rules of
whichever backend the host uses (iptables legacy/nft, arptables legacy/nft, native nft arp tables, ebtables)
and the packets come from the host's own facts (probes/hostnet.py). Fixers: fixes/host_*.py; fault matrix:
selftest/faults/test_host.py; the lab's compute host: labbox/roles/compute/.
"""
