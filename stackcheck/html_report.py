"""The auditor's page (`reports/<run>.html`, `latest.html`): one self-contained file made from the run's JSON
document (no network, no CDN: it opens from a mail attachment or a CI artifact, and prints).

Header with the gate's answer and the verdict counts; the run's scope; the drift since the baseline; one row per
requirement (id, text, severity, verdict, drift, hosts, the evidence that decided it, fixers, fix diffs); filters
by verdict, family, host and drift; the waivers with their expiry.

Security: every value is HTML-escaped (evidence comes from hosts: a config value `<img src=x onerror=...>` is shown
as text), and a Content-Security-Policy allows only this page's own style and script, by their SHA-256 hashes: no
'unsafe-inline', no source from anywhere, so nothing in the evidence can run even if it escaped the escaping.
"""
from __future__ import annotations

import base64
import hashlib
from html import escape

VERDICT_ORDER = ("failed", "error", "waived", "not-applicable", "passed")

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin:0 0 .3em}
.gate{display:inline-block;padding:.2em .7em;border-radius:4px;font-weight:bold;color:#fff}
.gate.pass{background:#2e7d32}.gate.fail{background:#c62828}
#counts{list-style:none;padding:0;margin:.6em 0}#counts li{display:inline-block;margin-right:1.2em}
#counts b{font-size:1.3em}
dl.run{display:grid;grid-template-columns:max-content auto;gap:.1em 1em;margin:.5em 0}dl.run dt{color:#555}
dl.run dd{margin:0}
.filters{margin:1em 0;padding:.5em;background:#f4f4f4}.filters label{margin-right:1em}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:.3em .4em;vertical-align:top;text-align:left}
th{background:#eee}
tr.v-failed td.verdict,tr.v-error td.verdict{color:#c62828;font-weight:bold}
tr.v-passed td.verdict{color:#2e7d32}tr.v-waived td.verdict,tr.v-not-applicable td.verdict{color:#6d4c41}
.d-new-failure{color:#c62828;font-weight:bold}.d-repaired{color:#2e7d32;font-weight:bold}
pre{white-space:pre-wrap;word-break:break-word;margin:0;font-size:12px}
td{overflow-wrap:break-word}td.id{white-space:nowrap}td.text{width:20%}td.evidence{width:36%}td.fix{width:14%;overflow-wrap:anywhere}td.hosts{min-width:6em}td.drift{min-width:7em}
@media print{.filters{display:none}body{margin:0;font-size:11px}tr{break-inside:avoid}}
"""

SCRIPT = """
(function(){
  var sel = function(id){return document.getElementById(id);};
  var rows = Array.prototype.slice.call(document.querySelectorAll('#requirements tbody tr'));
  function apply(){
    var v = sel('f-verdict').value, f = sel('f-family').value, h = sel('f-host').value, d = sel('f-drift').value;
    var shown = 0;
    rows.forEach(function(r){
      var ok = (!v || r.dataset.verdict === v) && (!f || r.dataset.family === f)
        && (!h || (' ' + r.dataset.hosts + ' ').indexOf(' ' + h + ' ') >= 0) && (!d || r.dataset.drift === d);
      r.hidden = !ok; if (ok) shown++;
    });
    sel('shown').textContent = shown + ' of ' + rows.length + ' requirements shown';
  }
  ['f-verdict','f-family','f-host','f-drift'].forEach(function(id){sel(id).addEventListener('change', apply);});
  window.addEventListener('beforeprint', function(){
    document.querySelectorAll('details').forEach(function(el){el.open = true;});
  });
  apply();
  document.body.dataset.script = 'ran';
})();
"""


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


CSP = (f"default-src 'none'; script-src {_hash(SCRIPT)}; style-src {_hash(STYLE)}; img-src data:; "
       "base-uri 'none'; form-action 'none'")


def e(value) -> str:
    return escape(str(value if value is not None else ""), quote=True)


def render(doc: dict) -> str:
    run = doc["run"]
    reqs = doc["requirements"]
    title = f"stackcheck {run['inventory']} {run.get('iso_time', run['time'])}: gate {run['gate'].upper()}"
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{e(CSP)}">',
        '<meta name="viewport" content="width=device-width">', f"<title>{e(title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        _header(doc), _drift(doc), _filters(reqs), _table(reqs), _waivers(doc["waivers"]),
        f"<p>{len(doc['cases'])} checks ran (one per check and host); every check's outcome, evidence and fix log "
        f"are in {e(run['id'])}.json and .xml.</p>",
        f"<script>{SCRIPT}</script>", "</body></html>", ""])


def _header(doc: dict) -> str:
    run, counts = doc["run"], doc["counts"]
    gate = run["gate"]
    mode = (" (--gate new: only requirements worse than the baseline close it; strict gate: "
            f"{run['gate_strict'].upper()})" if run["gate_mode"] == "new" else "")
    items = "".join(f'<li data-verdict="{e(v)}"><b>{counts[v]}</b> {e(v)}</li>' for v in VERDICT_ORDER if v in counts)
    scope = run["scope"] if isinstance(run["scope"], str) else ", ".join(run["scope"])
    facts = [("inventory", f"{run['inventory']} ({run['inventory_path']})" if run["inventory_path"] else
              run["inventory"]), ("run", f"{run['id']} at {run.get('iso_time', run['time'])}"),
             ("scope", scope + ("" if run["complete_selection"] else " (a selection of the checks ran: -k, -m or "
                                                                      "paths)")),
             ("exit code", run["exit_code"]), ("stackcheck", run["tool_version"])]
    dl = "".join(f"<dt>{e(k)}</dt><dd>{e(val)}</dd>" for k, val in facts)
    return (f'<header><h1>stackcheck: {e(run["inventory"])}</h1>'
            f'<p>gate: <span id="gate" class="gate {e(gate)}">{e(gate.upper())}</span>{e(mode)} '
            f'<span id="total">{len(doc["requirements"])}</span> requirements in scope</p>'
            f'<ul id="counts">{items}</ul><dl class="run">{dl}</dl></header>')


def _drift(doc: dict) -> str:
    d = doc["drift"]
    if not d["baseline"]:
        return '<p id="drift">No previous run of this inventory to compare with.</p>'
    order = ("new failure", "repaired", "still failing", "not in the baseline", "unchanged")
    parts = ", ".join(f"{d['counts'][s]} {e(s)}" for s in order if s in d["counts"])
    return f'<p id="drift">Since {e(d["baseline"])} ({e(d["baseline_time"])}): {parts}.</p>'


def _options(id_: str, label: str, values) -> str:
    opts = "".join(f'<option value="{e(val)}">{e(val)}</option>' for val in values)
    return f'<label>{e(label)} <select id="{id_}"><option value="">all</option>{opts}</select></label>'


def _filters(reqs: list[dict]) -> str:
    verdicts = [v for v in VERDICT_ORDER if any(r["verdict"] == v for r in reqs)]
    families = sorted({r["family"] for r in reqs})
    hosts = sorted({h for r in reqs for h in r["hosts"]})
    drifts = sorted({r["drift"]["status"] for r in reqs if r["drift"]})
    return ('<div class="filters">' + _options("f-verdict", "verdict", verdicts)
            + _options("f-family", "family", families) + _options("f-host", "host", hosts)
            + _options("f-drift", "since the baseline", drifts) + ' <span id="shown"></span></div>')


def _drift_cell(d: dict | None) -> str:
    if not d:
        return ""
    cls = "d-" + d["status"].replace(" ", "-")
    text = d["status"] + (f" since {d['since']}" if d["since"] else "") + (f" (was {d['before']})" if d["before"]
                                                                            and d["status"] != "unchanged" else "")
    return f'<span class="{e(cls)}">{e(text)}</span>'


def _fix_cell(r: dict) -> str:
    parts = [f"<div>{e(', '.join(r['fixers']))}</div>"] if r["fixers"] else []
    for fx in r["fixes"]:
        parts.append(f"<details><summary>{e(fx['check'])}: {e(fx['status'])} ({e(fx['risk'])})</summary>"
                     f"<pre>{e(fx['diff'] or '(no diff)')}</pre></details>")
    return "".join(parts)


def _observed_beyond_reason(evidence: str, reason: str) -> str:
    """A check's evidence ends with its message, which the reason already shows: keep what it adds."""
    message = reason.partition(": ")[2]
    if message and evidence.endswith(message):
        evidence = evidence[:-len(message)].rstrip("; ")
    return evidence


def _row(r: dict) -> str:
    drift = r["drift"]["status"] if r["drift"] else ""
    observed = _observed_beyond_reason(r["evidence"], r["reason"])
    evidence = (f"<pre>{e(r['reason'])}</pre>" if r["reason"] else "") + (
        f"<pre class=\"observed\">observed: {e(observed)}</pre>" if observed else "")
    if r["remediation"] and r["verdict"] not in ("passed", "not-applicable"):
        evidence += f"<div>remediation: {e(r['remediation'])}</div>"
    checks = "".join(f"<li>{e(c)}</li>" for c in r["checks"])
    n = len(r["checks"])
    evidence += f"<details><summary>{n} check{'' if n == 1 else 's'}</summary><ul>{checks}</ul></details>" if n else ""
    return (f'<tr id="req-{e(r["id"])}" class="v-{e(r["verdict"])}" data-verdict="{e(r["verdict"])}" '
            f'data-family="{e(r["family"])}" data-hosts="{e(" ".join(r["hosts"]))}" data-drift="{e(drift)}">'
            f'<td class="id">{e(r["id"])}</td><td class="text">{e(r["text"])}</td><td>{e(r["severity"])}</td>'
            f'<td class="verdict">{e(r["verdict"])}</td><td class="drift">{_drift_cell(r["drift"])}</td>'
            f'<td class="hosts">{e(", ".join(r["hosts"]))}</td><td class="evidence">{evidence}</td>'
            f'<td class="fix">{_fix_cell(r)}</td></tr>')


def _table(reqs: list[dict]) -> str:
    rank = {v: i for i, v in enumerate(VERDICT_ORDER)}
    rows = "".join(_row(r) for r in sorted(reqs, key=lambda r: rank.get(r["verdict"], 9)))
    head = "".join(f"<th>{h}</th>" for h in ("id", "requirement", "severity", "verdict", "since the baseline",
                                              "hosts", "evidence that decided it", "fixer and fix"))
    return f'<table id="requirements"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _waivers(waivers: list[dict]) -> str:
    if not waivers:
        return '<h2>Waivers</h2><p id="waivers">None.</p>'
    rows = "".join(f"<tr><td>{e(w['id'])}</td><td>{e(w['check'] or 'every check')}</td>"
                   f"<td>{e(', '.join(w['hosts']) or 'every host')}</td><td>{e(w['reason'])}</td>"
                   f"<td>{e(w['expires'])}{'' if w['active'] else ' (expired: ignored)'}</td></tr>" for w in waivers)
    return ('<h2>Waivers</h2><table id="waivers"><thead><tr><th>requirement</th><th>check</th><th>hosts</th>'
            f"<th>reason</th><th>expires</th></tr></thead><tbody>{rows}</tbody></table>")
