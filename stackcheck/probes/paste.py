"""Paste Deploy configuration files (Swift's proxy-server.conf): a line-preserving INI reader/editor, the
pipeline, what each pipeline element really is (by its entry point, not by its section name), and the S3
middleware order each release needs (requirement S3-1).

Pure functions on text: unit-tested on real captured files (selftest/unit/test_probe_paste.py).

Why the entry point: sites name their sections freely (`[filter:keystone]` for keystoneauth, `[filter:s3]`
for swift3 ...); the middleware a name stands for is what `use = egg:...` or `paste.filter_factory = ...` says.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# --- the INI file, line-preserving ------------------------------------------------------------------------------
_SECTION = re.compile(r"^\[([^\]]+)\]\s*$")
_OPTION = re.compile(r"^([^=:\s#;][^=:]*?)\s*[=:]\s?(.*)$")


@dataclass
class Option:
    key: str
    value: str
    first: int  # line index of `key = value`
    last: int   # last line index (continuation lines included)


@dataclass
class Section:
    name: str
    header: int  # line index of `[name]` (-1 for the implicit top)
    end: int     # line index after its last line
    options: dict[str, Option] = field(default_factory=dict)

    def get(self, key: str, default: str | None = None) -> str | None:
        opt = self.options.get(key)
        return opt.value if opt is not None else default


class IniFile:
    """An INI file as Paste Deploy reads it (comments only at line start, continuation lines indented; a value
    keeps any `#` inside it), able to change one option and give the whole text back with everything else
    (comments, order, spacing) untouched."""

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.trailing_newline = text.endswith("\n") or not text
        self.sections: dict[str, Section] = {}
        self._parse()

    def _parse(self) -> None:
        self.sections = {}
        current = Section("", -1, 0)  # options before the first header (Paste ignores them; kept for editing)
        last_opt: Option | None = None
        for i, raw in enumerate(self.lines):
            stripped = raw.strip()
            m = _SECTION.match(stripped) if not raw[:1].isspace() else None
            if m:
                name = m.group(1).strip()
                current = self.sections.setdefault(name, Section(name, i, i + 1))
                last_opt = None
                continue
            if not stripped or stripped[0] in "#;":
                continue
            if raw[:1].isspace() and last_opt is not None:  # continuation line of the previous value
                last_opt.value = f"{last_opt.value}\n{stripped}" if last_opt.value else stripped
                last_opt.last = i
                current.end = i + 1
                continue
            m = _OPTION.match(stripped)
            if m:
                last_opt = Option(m.group(1).strip(), m.group(2).strip(), i, i)
                current.options[last_opt.key] = last_opt
                current.end = i + 1  # new options of this section go right after its last one

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + ("\n" if self.trailing_newline else "")

    def section(self, name: str) -> Section | None:
        return self.sections.get(name)

    def get(self, section: str, key: str, default: str | None = None) -> str | None:
        sec = self.sections.get(section)
        return sec.get(key, default) if sec else default

    def set(self, section: str, key: str, value: str) -> None:
        """Set `key = value` in `section` (replacing the old line(s), or appending to the section, or adding the
        section at the end)."""
        sec = self.sections.get(section)
        line = f"{key} = {value}"
        if sec is None:
            if self.lines and self.lines[-1].strip():
                self.lines.append("")
            self.lines += [f"[{section}]", line]
        elif key in sec.options:
            opt = sec.options[key]
            self.lines[opt.first:opt.last + 1] = [line]
        else:
            self.lines.insert(sec.end, line)
        self._parse()

    def remove(self, section: str, key: str) -> None:
        sec = self.sections.get(section)
        if sec and key in sec.options:
            opt = sec.options[key]
            del self.lines[opt.first:opt.last + 1]
            self._parse()


# --- paste: pipelines and entry points --------------------------------------------------------------------------
# entry point (normalised) -> role. Roles are what the order rules talk about.
ENTRY_POINTS = {
    "egg:swift#s3api": "s3api",
    "egg:swift3#swift3": "swift3",
    "swift3.middleware:filter_factory": "swift3",
    "egg:swift#s3token": "s3token",
    "swift.common.middleware.s3api.s3token:filter_factory": "s3token",
    "keystonemiddleware.s3_token:filter_factory": "s3token",
    "egg:keystonemiddleware#s3_token": "s3token",
    "egg:swift3#s3token": "s3token",
    "swift3.s3_token_middleware:filter_factory": "s3token",
    "keystonemiddleware.auth_token:filter_factory": "authtoken",
    "egg:keystonemiddleware#auth_token": "authtoken",
    "keystoneclient.middleware.auth_token:filter_factory": "authtoken",
    "egg:swift#keystoneauth": "keystoneauth",
    "swift.common.middleware.keystoneauth:filter_factory": "keystoneauth",
    "egg:swift#tempauth": "tempauth",
    "egg:swift#healthcheck": "healthcheck",
    "egg:swift#memcache": "cache",
    "egg:swift#proxy": "proxy",
}


def entry_point(section: Section | None) -> str:
    """`use = egg:swift#s3api` -> 'egg:swift#s3api'; `paste.filter_factory = mod:func` -> 'mod:func'."""
    if section is None:
        return ""
    use = section.get("use") or ""
    if use:
        use = use.strip()
        if use.startswith("egg:") and "#" not in use:
            use += "#main"
        return use
    for key in ("paste.filter_factory", "paste.app_factory", "paste.filter_app_factory"):
        if section.get(key):
            return section.get(key).strip()
    return ""


def role_of(entry: str) -> str:
    return ENTRY_POINTS.get(entry, "")


@dataclass(frozen=True)
class Element:
    name: str   # the name in the pipeline line
    entry: str  # its entry point ('' when its section is missing)
    role: str   # what it is (s3api, s3token, authtoken ...), '' when not one we know

    @property
    def section(self) -> str:
        return f"filter:{self.name}"


class PasteConfig:
    """proxy-server.conf as Paste Deploy sees it."""

    def __init__(self, text: str):
        self.ini = IniFile(text)

    def pipeline_names(self, name: str = "main") -> list[str]:
        value = self.ini.get(f"pipeline:{name}", "pipeline")
        return value.split() if value else []

    def pipeline(self, name: str = "main") -> list[Element]:
        names = self.pipeline_names(name)
        out = []
        for i, n in enumerate(names):
            kind = "app" if i == len(names) - 1 else "filter"
            sec = self.ini.section(f"{kind}:{n}")
            entry = entry_point(sec)
            out.append(Element(n, entry, role_of(entry)))
        return out

    def filter_of_role(self, role: str, name: str = "main") -> Element | None:
        """The pipeline element doing `role` (the first one), or None."""
        return next((e for e in self.pipeline(name) if e.role == role), None)

    def options(self, element: Element | None) -> dict[str, str]:
        """A filter's own options (`set key = v` counts as key)."""
        if element is None:
            return {}
        sec = self.ini.section(element.section)
        if sec is None:
            return {}
        return {(k[4:].strip() if k.startswith("set ") else k): o.value for k, o in sec.options.items()}

    def defaults(self) -> dict[str, str]:
        sec = self.ini.section("DEFAULT")
        return {k: o.value for k, o in sec.options.items()} if sec else {}


# --- S3-1: the order each release needs -------------------------------------------------------------------------
# The Kilo-era swift3 middleware authenticates in s3token BEFORE authtoken sees the request. Swift's own s3api
# (Swift >= 2.18, e.g. 2.30) must come AFTER authtoken: authtoken (delay_auth_decision) lets the S3 request
# through, s3api turns it into a Swift request, s3token validates the signature with Keystone and sets the
# identity keystoneauth then authorises. With the old order on Swift 2.30 authtoken runs after s3token and strips
# the identity s3token set, keystoneauth sees an anonymous request and every signed request fails with
# SignatureDoesNotMatch, while the proxy starts without complaint (s3api's own startup check only wants
# s3api < s3token < keystoneauth).
ORDERS = {
    "swift3": ("swift3", "s3token", "authtoken", "keystoneauth"),
    "s3api": ("authtoken", "s3api", "s3token", "keystoneauth"),
}
# the s3token implementation each S3 middleware pairs with
S3TOKEN_FOR = {
    "s3api": ("egg:swift#s3token", "swift.common.middleware.s3api.s3token:filter_factory"),
    "swift3": ("keystonemiddleware.s3_token:filter_factory", "egg:keystonemiddleware#s3_token",
               "egg:swift3#s3token", "swift3.s3_token_middleware:filter_factory"),
}
# options that give s3token (Swift >= 2.30.1 / the 2025 security updates) service credentials for /v3/s3tokens
SERVICE_AUTH_KEYS = ("auth_url", "username", "password")
SERVICE_AUTH_PROJECT = ("project_name", "project_id")
SERVICE_AUTH_COPY = ("auth_url", "auth_type", "username", "password", "project_name", "project_id",
                     "user_domain_id", "user_domain_name", "project_domain_id", "project_domain_name",
                     "region_name")


@dataclass
class S3PipelineVerdict:
    middleware: str              # 's3api', 'swift3' or '' (none)
    found: list[str]             # the roles in pipeline order (only the four that matter)
    expected: tuple[str, ...]    # the order the middleware needs
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def s3_pipeline_verdict(conf: PasteConfig, swift_version: str = "") -> S3PipelineVerdict:
    """Does the pipeline have swift3/s3api and s3token, in the order that middleware needs?"""
    elements = conf.pipeline()
    roles = [e.role for e in elements]
    middleware = "s3api" if "s3api" in roles else "swift3" if "swift3" in roles else ""
    problems: list[str] = []
    if not elements:
        return S3PipelineVerdict("", [], (), ["no [pipeline:main] pipeline"])
    if not middleware:
        return S3PipelineVerdict("", [], (), [
            "the pipeline has neither s3api nor swift3 (no S3 API): add s3api and s3token by hand (Swift >= 2.18: "
            "authtoken s3api s3token keystoneauth), or narrow stackcheck.scope if this site offers no S3"])
    expected = ORDERS[middleware]
    found = [r for r in roles if r in expected]
    missing = [r for r in expected if r not in roles]
    if missing:
        problems.append(f"missing from the pipeline: {', '.join(missing)} (add it by hand: the fixer only reorders "
                        "what is there)")
    elif found != list(expected):
        release = f"Swift {swift_version}" if swift_version else "this release"
        problems.append(f"order {' '.join(found)}; {middleware} on {release} needs {' '.join(expected)}")
    if middleware == "s3api" and swift_version and _version_tuple(swift_version) < (2, 18):
        problems.append(f"s3api is part of Swift only from 2.18; installed {swift_version}")
    s3token = conf.filter_of_role("s3token")
    if s3token is not None and s3token.entry not in S3TOKEN_FOR[middleware]:
        problems.append(f"s3token is {s3token.entry}; {middleware} needs {S3TOKEN_FOR[middleware][0]}")
    return S3PipelineVerdict(middleware, found, expected, problems)


def reorder_pipeline(names: list[str], roles: list[str], expected: tuple[str, ...]) -> list[str]:
    """The pipeline with the elements of the `expected` roles put in that order, in the slots they occupy now
    (everything else stays where it is)."""
    slots = [i for i, r in enumerate(roles) if r in expected]
    by_role = {r: n for n, r in zip(names, roles) if r in expected}
    if len(by_role) != len(expected) or len(slots) != len(expected):
        raise ValueError("cannot reorder: the pipeline lacks one of " + " ".join(expected))
    out = list(names)
    for slot, role in zip(slots, expected):
        out[slot] = by_role[role]
    return out


def service_auth(options: dict[str, str]) -> dict[str, str]:
    """The service-credential options of an s3token/authtoken filter (values included: callers never print them)."""
    return {k: options[k] for k in SERVICE_AUTH_COPY if options.get(k)}


def has_service_auth(options: dict[str, str]) -> bool:
    return all(options.get(k) for k in SERVICE_AUTH_KEYS) and any(options.get(k) for k in SERVICE_AUTH_PROJECT)


def keystone_urls(options: dict[str, str]) -> dict[str, str]:
    """The options of an authtoken filter that name Keystone: modern (www_authenticate_uri, auth_url) and
    Kilo-era (auth_uri, identity_uri)."""
    return {k: options[k] for k in ("www_authenticate_uri", "auth_uri", "auth_url", "identity_uri") if options.get(k)}


def _version_tuple(version: str) -> tuple[int, ...]:
    nums = re.findall(r"\d+", version.split("-")[0].split("+")[0])
    return tuple(int(n) for n in nums[:3])
