"""Requirements the lab in a box cannot host, with the reason. One place, read by the coverage report and by the
labbox inventory (which waives them, so a healthy lab reports them as "waived: not hosted by labbox", never as
passed). Their checks are proven instead on real captured output in selftest/unit/.

Add an entry only with a reason an operator can verify on this machine. A key is a requirement id (all its
checks) or `ID test_function` (that one check: the requirement's other checks run on the lab as on any site)."""

NOT_HOSTED: dict[str, str] = {
    "DBH-1 test_swap_active": ("swap cannot be activated in a lab host: its root is an overlayfs, on which the kernel refuses swap "
              "files (`swapon /swapfile` in dbnode1: \"swapon failed: Invalid argument\"), and /proc/swaps is the "
              "machine's, not the host's; the swap file itself (0600, mkswap signature, fstab line) is hosted and "
              "its check runs on the lab like any other; swap activity is proven on captured /proc/swaps in "
              "selftest/unit/test_probe_dbhost.py"),
    "HOST-8": ("this kernel has no device-mapper (CONFIG_BLK_DEV_DM unset; `lvcreate` says \"striped: Required "
               "device-mapper target(s) not detected in your kernel\"), so a cinder-volumes VG could hold no volume, "
               "and the storage host (an nspawn container) has no block device of its own; the check is proven on "
               "`vgs` output captured here (selftest/unit/test_probe_host.py)"),
    # openstack family: the lab's cloud runs Keystone, Placement, Glance, Nova (API, conductor, scheduler on the
    # controller; nova-compute with QEMU/TCG on compute), Neutron (server; OVS agents on network and compute, L3 on
    # network) and Cinder's API and scheduler; NET-5, OS-1, OS-2, OS-4 and OS-5 run on it. Cinder has no volume
    # service: its LVM backend needs device-mapper (CONFIG_BLK_DEV_DM unset here, see HOST-8), NFS an NFS client
    # mount inside a container, Ceph a cluster; OS-4 (block storage answers the projects' credentials) needs none
}

# What the healthy lab reports as not applicable, each with the fact that makes it so: observed on the lab's
# hosts, or declared by the lab's inventory. Nothing else may be not applicable on the lab (a selftest pins it).
NOT_APPLICABLE_ON_LAB: dict[str, str] = {
    "DBH-4 test_selinux_enforcing": ("observed: the lab's Debian 12 hosts have no SELinux (no getenforce, no "
                                     "/etc/selinux/config; the kernel has it compiled in but no policy is loaded); "
                                     "the check is proven on captured CentOS 7 output in "
                                     "selftest/unit/test_probe_dbhost.py"),
    "LB-3 test_openstack_pool_tcp_roundrobin_members": "declared: lb.kind is haproxy, whose pool is read from its config",
    "LB-6 test_openstack_health_monitor_judges_galera_state": "declared: lb.kind is haproxy (its own check is LB-6's)",
}


def split_key(key: str) -> tuple[str, str | None]:
    """NOT_HOSTED key -> (requirement id, check function or None)."""
    rid, _, check = key.partition(" ")
    return rid, check or None


def not_hosted_reason(rid: str) -> str:
    """Why the lab does not host `rid` (or some of its checks), '' when it hosts all of it; a requirement whose
    every check is not applicable on the lab (by an observed fact) is not hosted either."""
    table = {**NOT_HOSTED, **{k: f"not applicable: {why}" for k, why in NOT_APPLICABLE_ON_LAB.items()
                              if why.startswith("observed")}}
    return "; ".join(f"{check + ': ' if check else ''}{why}" for key, why in table.items()
                     for r, check in [split_key(key)] if r == rid)
