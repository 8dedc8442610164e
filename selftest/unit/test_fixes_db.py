"""The DB family's fixers and their risk classes: a fixer that creates or widens access (an account, a grant,
a firewall opening to new sources) is risk `access`, which plain --fix never runs."""
import fixes.db_cluster  # noqa: F401 - registers the fixers
import fixes.db_host  # noqa: F401
import fixes.db_lb  # noqa: F401
import fixes.db_mycnf  # noqa: F401
from stackcheck.fixing import REGISTRY, Engine, FixContext

# every DB fixer and why its class is right (reviewed: which of them creates or widens access)
EXPECTED_RISK = {
    "replicate_local_only_accounts": "access",  # copies an account made on one node to every node
    "enable_db_service": "config", "leave_bootstrap_mode": "restart", "end_forgotten_desync": "config",
    "start_haproxy": "restart", "rewrite_vip_pool": "config",  # members = the inventory's DB nodes only
    "galera_aware_health_check": "config",  # uses the check account the site made; creates none
    "prepare_swapfile": "config", "activate_swapfile": "config", "datadir_volume_fstab_line": "config",
    "selinux_enforcing": "config", "socat_and_no_epel": "config",
}


def _db_fixers():
    return {f.func.__name__: f for f in REGISTRY if f.func.__module__.startswith("fixes.db_")}


def test_dbk7_copying_an_account_is_access():
    assert _db_fixers()["replicate_local_only_accounts"].risk == "access"


def test_db_fixers_risk_classes_reviewed():
    fixers = _db_fixers()
    for name, risk in EXPECTED_RISK.items():
        assert fixers[name].risk == risk, name
    # the DBC option fixers (generated per requirement) never touch access
    assert all(f.risk in ("config", "restart") for n, f in fixers.items() if n.startswith(("align_", "rewrite_dbc")))


def test_plain_fix_refuses_an_access_fixer_naming_the_flag():
    fx = _db_fixers()["replicate_local_only_accounts"]
    ctx = FixContext(None)
    out = Engine(echo=lambda s: None).fix(fx, ctx, recheck=lambda: None, where="dbnode2")
    assert out.status == "refused" and "--fix-access" in out.summary()
