"""Fixer for HZN-1: switch Apache to the event MPM (exactly one MPM), validate with `apachectl configtest` BEFORE
restarting, restart. A failed configtest or re-check rolls the module switch back (the engine runs the undos)."""
from __future__ import annotations

import re

from stackcheck.fixing import FixDeclined, fixer
from stackcheck.probes import apache

RESTARTED = "/run/stackcheck-apache-restarted"


@fixer("HZN-1", risk="restart", checks=["test_apache_runs_event_mpm_only"])
def switch_to_event_mpm(ctx):
    """Enable the event MPM as the only MPM, validate the configuration (apachectl configtest), restart Apache."""
    wanted = ctx.lab.get("horizon.mpm")
    state = apache.read(ctx.transport)
    if not apache.mpm_problems(state, wanted):
        return
    if state.mod_php and wanted != "prefork":
        raise FixDeclined(f"mod_php ({', '.join(state.mod_php)}) is enabled and needs the prefork MPM: move PHP to "
                          f"php-fpm first (HZN-2), then switch the MPM")
    if state.family == apache.DEBIAN:
        others = [m for m in state.enabled_mpms if m != wanted]
        if others or wanted not in state.enabled_mpms:
            off = " ".join(f"mpm_{m}" for m in others)
            do = (f"a2dismod -q {off} && " if off else "") + f"a2enmod -q mpm_{wanted}"
            undo = f"a2dismod -q mpm_{wanted}" + (f" && a2enmod -q {' '.join(f'mpm_{m}' for m in others)}"
                                                    if others else "")
            # after a failed re-check the server must run the old MPM again, but only if the fix restarted it
            # (a restart with a configuration that failed its test would take the dashboard down)
            ctx.command(f"rm -f {RESTARTED} && {do}",
                        undo=f"{undo}; if [ -e {RESTARTED} ]; then rm -f {RESTARTED}; systemctl restart apache2; fi",
                        description=f"switch MPM: {do}")
        validate, unit = "apache2ctl configtest", "apache2"
    elif state.family == apache.RHEL:
        path = "/etc/httpd/conf.modules.d/00-mpm.conf"
        text = ctx.read(path) or ""
        lines = []
        for line in text.splitlines():
            m = re.match(r"^(\s*#\s*)?(LoadModule\s+mpm_(\w+)_module\s+\S+)", line)
            if m:
                line = m.group(2) if m.group(3) == wanted else f"#{m.group(2)}"
            lines.append(line)
        new = "\n".join(lines) + "\n"
        if f"LoadModule mpm_{wanted}_module" not in new:
            new += f"LoadModule mpm_{wanted}_module modules/mod_mpm_{wanted}.so\n"
        ctx.edit(path, new)
        validate, unit = "apachectl configtest", "httpd"
    else:
        raise FixDeclined("no Apache configuration found (/etc/apache2 or /etc/httpd): install Apache first")
    # configtest runs before the restart: a broken configuration stops here and everything is rolled back
    ctx.command(validate, description=f"validate: {validate}")
    ctx.command(f"systemctl restart {unit} && touch {RESTARTED}", description=f"restart {unit}")


@fixer("HZN-2", risk="restart", checks=["test_php_served_through_php_fpm"])
def serve_php_through_php_fpm(ctx):
    """Move PHP from mod_php to php-fpm (proxy_fcgi + the phpX-fpm handler), validate, restart Apache."""
    state = apache.read(ctx.transport)
    if not apache.php_problems(state):
        return
    if state.family != apache.DEBIAN:
        raise FixDeclined("only Debian/Ubuntu's a2enmod/a2enconf layout is repaired automatically; on RHEL comment "
                          "out LoadModule php*_module and use /etc/httpd/conf.d/php.conf's php-fpm handler by hand")
    versions = [m[len("php"):] for m in state.mod_php] or _fpm_versions(ctx)
    version = versions[0] if versions else ""
    if not version or not ctx.run(f"test -f /etc/apache2/conf-available/php{version}-fpm.conf").ok:
        raise FixDeclined(f"php{version}-fpm is not installed (its Apache handler conf-available/php{version}-fpm.conf "
                          f"is missing): install php{version}-fpm first (not done automatically)")
    fpm = f"php{version}-fpm"
    mods = " ".join(state.mod_php)
    on = [m for m, have in (("proxy_fcgi", state.proxy_fcgi), ("setenvif", False)) if not have]
    do = (f"a2dismod -q {mods} && " if mods else "") + f"a2enmod -q {' '.join(on)} && a2enconf -q {fpm}"
    undo = f"a2disconf -q {fpm}" + (f" && a2enmod -q {mods}" if mods else "")
    ctx.command(f"systemctl enable {fpm} && systemctl start {fpm}", undo=None, description=f"enable and start {fpm}")
    ctx.command(f"rm -f {RESTARTED} && {do}",
                undo=f"{undo}; if [ -e {RESTARTED} ]; then rm -f {RESTARTED}; systemctl restart apache2; fi",
                description=f"PHP through php-fpm: {do}")
    ctx.command("apache2ctl configtest", description="validate: apache2ctl configtest")
    ctx.command(f"systemctl restart apache2 && touch {RESTARTED}", description="restart apache2")


def _fpm_versions(ctx) -> list[str]:
    """The PHP versions whose php-fpm handler Apache has available (conf-available/phpX-fpm.conf)."""
    listing = ctx.run("ls -1 /etc/apache2/conf-available/").output("Apache's available configurations")
    return [m.group(1) for name in listing.split() if (m := re.fullmatch(r"php(.+)-fpm\.conf", name))]
