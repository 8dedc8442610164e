"""LB-6: what a health-check script really checks, read from its code (not from the words it contains).

A script counts as Galera-aware when its code (comments, and `echo`/`printf`/`logger` statements, removed)
1. asks the DB server (mysql/mariadb client) for wsrep_local_state or wsrep_local_state_comment,
2. compares the state with 4 / Synced (a shell test, grep, case pattern or an SQL comparison), and
3. compares wsrep_ready with ON, or wsrep_cluster_status with Primary (Percona's clustercheck judges Primary).

A comment saying "Synced", an `echo "node is Synced"`, or a query that reads the state and never compares it
are not checks. This is a reading of the code, so it can be fooled by a script written to fool it; it is not
fooled by the ordinary ways a check script merely talks about Galera state.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

TALK = {"echo", "printf", "logger", ":", "print"}  # statements that only say things
TESTS = {"[", "[[", "test", "grep", "egrep", "fgrep", "case", "awk", "expr", "(("}
CLIENT = re.compile(r"\b(mysql|mariadb|mysqladmin)\b")
_KEYWORDS = {"if", "elif", "then", "while", "until", "do", "!", "else"}


def statements(script: str) -> list[str]:
    """The script's simple commands at top level (split at newlines, ; && || | &), comments dropped; a command
    substitution `$( ... )` and quoted text stay inside their statement."""
    out, cur = [], []
    quote, depth, i = "", 0, 0
    text = script.replace("\\\n", " ")

    def flush():
        stmt = "".join(cur).strip()
        if stmt:
            out.append(stmt)
        cur.clear()

    while i < len(text):
        c = text[i]
        if quote:
            cur.append(c)
            if c == "\\" and quote == '"' and i + 1 < len(text):
                cur.append(text[i + 1])
                i += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
            cur.append(c)
        elif c == "#" and (not cur or cur[-1] in " \t\n;(") and not (cur and cur[-1] == "$"):
            while i < len(text) and text[i] != "\n":  # a comment runs to the end of the line
                i += 1
            continue
        elif text.startswith("$(", i):
            depth += 1
            cur.append("$(")
            i += 2
            continue
        elif c == ")" and depth:
            depth -= 1
            cur.append(c)
        elif depth == 0 and c in "\n;&|":
            flush()
        else:
            cur.append(c)
        i += 1
    flush()
    return out


def _first_word(stmt: str) -> str:
    words = stmt.split()
    while words and (words[0] in _KEYWORDS or re.fullmatch(r"\w+=\S*", words[0]) and len(words) > 1):
        words = words[1:]
    return words[0] if words else ""


def code(script: str) -> list[str]:
    """The statements that do something: talking statements (echo, printf, logger) removed."""
    return [s for s in statements(script) if _first_word(s) not in TALK]


def _operand(value: str) -> str:
    """A regex for `value` used as a compared operand (not part of a longer word)."""
    return rf"(?<![\w.]){value}(?![\w.])"


def _compares(stmts: list[str], values: tuple[str, ...]) -> bool:
    """One of `values` is compared somewhere: an operand of a shell comparison (` = 4 `, `-eq 4`, `== 'Primary'`),
    a pattern of grep/case/awk, or an SQL comparison inside a client call (`VARIABLE_VALUE = 'Synced'`). An
    assignment (`state=Synced`) or a message is not a comparison."""
    alt = "|".join(values)
    value = rf"['\"]?(?:{alt})(?![\w.])"
    shell = re.compile(rf"\s(?:-eq|-ne|==|!=|=~|=)\s+{value}|(?<![\w.])(?:{alt})['\"]?\s+(?:-eq|-ne|==|!=|=)\s")
    # SQL: the compared column is a status value (`VARIABLE_VALUE = 4`), not an option (`--connect-timeout=4`)
    sql = re.compile(rf"(?:value|state|comment|ready|status)[`'\"]?\s*(?:=|<>|!=)\s*{value}", re.I)
    pattern = re.compile(_operand(rf"(?:{alt})"))
    case_pattern = re.compile(rf"^\s*['\"]?(?:{alt})['\"]?\s*\)")
    for stmt in stmts:
        flat = stmt.replace("\\t", " ")  # printf '4\tON': two operands
        if shell.search(flat) or case_pattern.search(flat):
            return True
        if _first_word(stmt) in TESTS and pattern.search(flat):
            return True
        if CLIENT.search(stmt) and sql.search(stmt):
            return True
    return False


@dataclass
class Verdict:
    aware: bool
    why: str


def judge(script: str) -> Verdict:
    stmts = code(script)
    body = "\n".join(stmts)
    if not CLIENT.search(body):
        return Verdict(False, "does not query the DB server (no mysql/mariadb client call outside comments and echo)")
    if not re.search(r"wsrep_local_state", body, re.I):
        return Verdict(False, "does not read wsrep_local_state (a mention in a comment or an echo is not a check)")
    if not _compares(stmts, ("4", "Synced")):
        return Verdict(False, "reads wsrep_local_state but never compares it with 4 / Synced")
    ready = re.search(r"wsrep_ready", body, re.I) and _compares(stmts, ("ON",))
    primary = re.search(r"wsrep_cluster_status", body, re.I) and _compares(stmts, ("Primary",))
    if not (ready or primary):
        return Verdict(False, "compares wsrep_local_state but not wsrep_ready = ON (nor wsrep_cluster_status = "
                              "Primary)")
    return Verdict(True, "compares wsrep_local_state with 4/Synced and "
                         + ("wsrep_ready with ON" if ready else "wsrep_cluster_status with Primary"))
