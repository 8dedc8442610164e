"""Neutron's agent and plugin configuration for several flat external networks (NET-2..4), and the small bits of
`ip` output NET-6 needs (br-ex's addresses, the static route), all pure functions."""
from __future__ import annotations

import json

from stackcheck.probes.ini import IniFile
from stackcheck.probes.ovs import parse_mappings

L3_EMPTY = ("gateway_external_network_id", "external_network_bridge")
OVS_AGENT_CANDIDATES = ("/etc/neutron/plugins/ml2/openvswitch_agent.ini",          # Liberty and later
                        "/etc/neutron/plugins/openvswitch/ovs_neutron_plugin.ini")  # Kilo (the notes)
ML2_CANDIDATES = ("/etc/neutron/plugin.ini", "/etc/neutron/plugins/ml2/ml2_conf.ini")

# which l3-agent options the INSTALLED neutron still defines (they were dropped in later releases): grep its
# option definitions instead of trusting a release table; prints "neutron-source" and the names it defines. No
# neutron importable: "unknown" (the check is then conservative); a grep that could not read the source fails
# (rc 2), since a partial read would make a defined option look dropped
KNOWN_L3_OPTIONS = (
    "d=$(/usr/bin/python3 -c 'import neutron, os; print(os.path.dirname(neutron.__file__))' 2>/dev/null)"
    " && [ -d \"$d/conf\" ] || { echo no-neutron-source; exit 0; }\n"
    "echo neutron-source\n"
    "found=$(grep -rhoE \"'(gateway_external_network_id|external_network_bridge)'\" "
    "$(for s in $d/conf $d/agent/l3; do [ -d $s ] && echo $s; done)); rc=$?; [ $rc -le 1 ] || exit $rc\n"
    "printf '%s\\n' \"$found\" | tr -d \"'\" | sort -u")


def known_options(output: str) -> set[str] | None:
    """The output of KNOWN_L3_OPTIONS -> the option names the installed release defines (None: no source found,
    so unknown)."""
    words = set(output.split())
    return words & set(L3_EMPTY) if "neutron-source" in words else None


def l3_problems(ini: IniFile, known: set[str] | None) -> list[str]:
    """NET-2: both options empty. An option the installed release no longer defines cannot route traffic to a
    single external bridge, so its absence is fine; when that is unknown, absence is NOT fine (Kilo's default
    external_network_bridge is br-ex)."""
    out = []
    for key in L3_EMPTY:
        value = ini.get("DEFAULT", key)
        if value is None:
            if known is None or key in known:
                out.append(f"[DEFAULT] {key} is not set (its default is not empty on the releases that read it;"
                           f" set it empty)")
        elif value.strip():
            out.append(f"[DEFAULT] {key} = {value} (expected empty, for several external networks)")
    return out


def mapping_problems(ini: IniFile, wanted: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """NET-3: [ovs] bridge_mappings maps each physnet to its bridge."""
    have = parse_mappings(ini.get("ovs", "bridge_mappings"))
    out = [f"{physnet} is mapped to {have[physnet]} (expected {bridge})" if physnet in have
           else f"{physnet}:{bridge} is missing" for physnet, bridge in wanted.items() if have.get(physnet) != bridge]
    return have, out


def ml2_problems(ini: IniFile, physnets: list[str]) -> list[str]:
    """NET-4: vxlan and flat type drivers; every physnet a flat network and in network_vlan_ranges."""
    out = []
    types = ini.get_list("ml2", "type_drivers")
    missing = [t for t in ("vxlan", "flat") if t not in types]
    if missing:
        out.append(f"[ml2] type_drivers = {','.join(types) or '(not set)'} lacks {', '.join(missing)}")
    flat = ini.get_list("ml2_type_flat", "flat_networks")
    if "*" not in flat:
        lacking = [p for p in physnets if p not in flat]
        if lacking:
            out.append(f"[ml2_type_flat] flat_networks = {','.join(flat) or '(not set)'} lacks {', '.join(lacking)}")
    ranges = ini.get_list("ml2_type_vlan", "network_vlan_ranges")
    named = {r.split(":")[0] for r in ranges}
    lacking = [p for p in physnets if p not in named]
    if lacking:
        out.append(f"[ml2_type_vlan] network_vlan_ranges = {','.join(ranges) or '(not set)'} "
                   f"lacks {', '.join(lacking)}")
    return out


def addresses(ip_addr_json: str) -> list[str]:
    """`ip -j addr show dev X` -> its global addresses ("198.18.8.5/24"); link-local ones do not count."""
    found = []
    for link in json.loads(ip_addr_json or "[]"):
        for a in link.get("addr_info", []):
            if a.get("scope") in ("global", "site"):
                found.append(f"{a['local']}/{a['prefixlen']}")
    return found


def routes_via(ip_route_json: str, gateway: str | None, dev: str) -> list[dict]:
    """`ip -j route show` -> the routes through `gateway` (any gateway when None) on `dev`."""
    return [r for r in json.loads(ip_route_json or "[]")
            if r.get("dev") == dev and r.get("gateway") and (gateway is None or r["gateway"] == gateway)]


def route_text(route: dict) -> str:
    flags = " onlink" if "onlink" in route.get("flags", []) else ""
    return f"{route.get('dst')} via {route.get('gateway')} dev {route.get('dev')}{flags}"
