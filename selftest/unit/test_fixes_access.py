"""Fixers that open a firewall port to sources it refused before are risk `access` (issue 11 item 4: a fixer that
creates or widens access is its own risk class that --fix alone never runs): SPC-4 (running and persisted rules),
SWF-5's firewall half, DBH-3. Found from their source, so a new fixer that opens a port cannot slip in as `config`."""
import importlib
import inspect
import pkgutil

import fixes
from stackcheck.fixing import REGISTRY, Engine, FixContext

OPENS_A_PORT = ("firewall.open_running(", "firewall.open_in_file(", "--add-port")


def _all_fixers():
    for module in pkgutil.iter_modules(fixes.__path__):
        importlib.import_module(f"fixes.{module.name}")
    return {f.func.__name__: f for f in REGISTRY if f.func.__module__.startswith("fixes.")}


def _opens_a_port(fx) -> bool:
    source = inspect.getsource(fx.func)
    return any(marker in source for marker in OPENS_A_PORT)


def test_every_fixer_that_opens_a_port_is_access_and_says_so():
    openers = {name: fx for name, fx in _all_fixers().items() if _opens_a_port(fx)}
    assert set(openers) == {"insert_spice_rule_running", "insert_spice_rule_persisted", "open_proxy_port",
                            "open_galera_ports"}
    for name, fx in openers.items():
        assert fx.risk == "access", name
        assert "--fix-access" in inspect.getdoc(fx.func), name


def test_swf5_starting_the_proxy_stays_a_restart():
    swf5 = [fx for fx in _all_fixers().values() if "SWF-5" in fx.requirements]
    assert [(fx.func.__name__, fx.risk) for fx in swf5] == [("start_proxy", "restart"), ("open_proxy_port", "access")]


def test_plain_fix_refuses_each_port_opening_naming_the_flag():
    for name in ("insert_spice_rule_running", "insert_spice_rule_persisted", "open_proxy_port", "open_galera_ports"):
        out = Engine(echo=lambda s: None).fix(_all_fixers()[name], FixContext(None), recheck=lambda: None, where="x")
        assert out.status == "refused" and "needs --fix-access" in out.summary(), (name, out.summary())
