"""iniset.py FILE SECTION KEY VALUE: set one oslo-style option in place, for the roles' setup scripts.

Comments and layout are kept; the key replaces its first line in the section (later duplicates go) or lands at
the end of the section; a missing section is appended, a missing file created; an empty VALUE writes `key =`.
Installed in every host as /opt/labbox/lib/iniset.py (labbox.provision.install_role_files)."""
import re
import sys

path, sec, key, val = sys.argv[1:5]
setting = f"{key} = {val}" if val else f"{key} ="
try:
    lines = open(path).read().splitlines()
except FileNotFoundError:
    lines = []
out, cur, done = [], None, False
for line in lines:
    m = re.match(r"^\[([^\]]+)\]\s*$", line.strip())
    if m:
        if cur == sec and not done:
            while out and not out[-1].strip():
                out.pop()
            out += [setting, ""]
            done = True
        cur = m.group(1)
        out.append(line)
        continue
    if cur == sec and re.match(rf"^{re.escape(key)}\s*[=:]", line.strip()):
        if not done:
            out.append(setting)
            done = True
        continue
    out.append(line)
if not done:
    if cur != sec:
        out += ["", f"[{sec}]"]
    out.append(setting)
open(path, "w").write("\n".join(out) + "\n")
