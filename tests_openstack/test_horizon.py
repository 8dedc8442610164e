"""Horizon on Apache (the notes' "Horizon Performance Optimizations"): the event MPM, exactly one MPM enabled, PHP
(if any) through php-fpm, and a login page that answers, also to a browser holding an expired session."""
import pytest
import requests

from stackcheck.cloudtls import cloud_verify
from stackcheck.probes import apache
from stackcheck.verdicts import CannotCheck, Finding

LOGIN_PATHS = ("/dashboard/auth/login/", "/horizon/auth/login/")  # RDO, Debian/Ubuntu


def apache_state(transport, evidence):
    state = apache.read(transport)
    evidence["family"] = state.family
    evidence["enabled_mpms"] = ",".join(state.enabled_mpms) or "none"
    evidence["running_mpm"] = state.running_mpm or ("unknown" if apache.mpm_unknowns(state) else "not running")
    if state.a2query:
        evidence["a2query -M"] = state.a2query
    return state


def judge(where: str, problems: list[str], unknowns: list[str], remediation: str | None = None) -> None:
    """Findings first (what was read and found wrong is certain, even when another part could not be read);
    else what could not be read is an error; else the check passes."""
    if problems:
        also = f" (also could not check: {'; '.join(unknowns)})" if unknowns else ""
        raise Finding(f"{where}: " + "; ".join(problems) + also, remediation=remediation)
    if unknowns:
        raise CannotCheck(f"{where}: " + "; ".join(unknowns))


@pytest.mark.requirement("HZN-1")
@pytest.mark.role("dashboard")
@pytest.mark.severity("medium")
def test_apache_runs_event_mpm_only(target, transport, lab, evidence):
    state = apache_state(transport, evidence)
    wanted = lab.get("horizon.mpm")
    judge(f"Apache on {target}", apache.mpm_problems(state, wanted), apache.mpm_unknowns(state),
          apache.mpm_remediation(state, wanted))


@pytest.mark.requirement("HZN-2")
@pytest.mark.role("dashboard")
@pytest.mark.severity("medium")
def test_php_served_through_php_fpm(target, transport, evidence):
    state = apache_state(transport, evidence)
    evidence["php"] = ("mod_php " + ",".join(state.mod_php)) if state.mod_php else \
        (f"php-fpm ({','.join(state.fpm_active) or 'not running'})" if state.fpm_handlers else "no PHP handler")
    judge(f"Apache on {target}", apache.php_problems(state), apache.php_unknowns(state), apache.php_remediation(state))


def _get(url, timeout, **kw):
    try:
        return requests.get(url, timeout=timeout, allow_redirects=False, **kw)
    except requests.RequestException as exc:
        raise Finding(f"{url} does not answer: {type(exc).__name__}: {str(exc)[:160]}") from None


@pytest.mark.requirement("HZN-3")
@pytest.mark.role("dashboard")
@pytest.mark.severity("high")
def test_login_page_answers_also_after_session_expiry(target, lab, evidence):
    timeout = max(lab.get("connect_timeout"), 20)  # the first request after a restart loads Django
    urls = [lab.get("horizon.login_url")] if lab.get("horizon.login_url") else \
        [f"http://{target.address}{p}" for p in LOGIN_PATHS]
    tried = []
    for url in urls:
        r = _get(url, timeout, verify=cloud_verify(lab))
        tried.append(f"{url}: HTTP {r.status_code}")
        if r.status_code != 404:
            break
    evidence["login"] = tried[-1]
    assert r.status_code == 200, f"the dashboard login page of {target} does not answer 200 ({'; '.join(tried)})"
    assert 'name="password"' in r.text, f"{url} answered 200 but is not a login form"
    # the Kilo bug of the notes: "Error 500 after login when the session had expired"; a browser comes back
    # with a session cookie the server no longer knows
    expired = {"sessionid": "0123456789abcdefghijklmnopqrstuv", "csrftoken": "expiredcsrftoken0123456789abcdef"}
    for again in (url, url.replace("/auth/login/", "/project/")):
        r2 = _get(again, timeout, cookies=expired, verify=cloud_verify(lab))
        evidence[f"expired session {again.rsplit('/', 2)[-2]}"] = r2.status_code
        assert r2.status_code < 500, f"{again} with an expired session cookie answered HTTP {r2.status_code} " \
                                     f"(expected the login page or a redirect to it)"
