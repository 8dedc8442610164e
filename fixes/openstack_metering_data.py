"""CEIL-3's data fixer: the notes' "hacky solution" to give a full metering database's space back (MongoDB keeps
its files' size after documents expire or are deleted, and repairDatabase needs free space the full disk does
not have): dump, VERIFY the dump, drop the database, restore it, verify again.

Risk class `data`: it runs only with --fix-data. It refuses to drop anything unless the dump is complete and
verified (every document read back from the dump files, counts equal to the live collections); if anything fails
after the drop, the undo restores from the verified dump. The dump goes to /var/backups/stackcheck/<time>/ on
the controller (another filesystem than the full one, or the check will say it is still full) and is kept.

Tools: mongodump/mongorestore when the host has them (a real site), else the same steps in Python with pymongo
(the inventory's ceilometer.mongo_python, whose pymongo must speak to the server)."""
from __future__ import annotations

import shlex
import time

from stackcheck.fixing import BACKUP_ROOT, fixer

# one script, three modes; every mode exits non-zero on any doubt
SCRIPT = r'''
import json, os, sys
from urllib.parse import urlsplit
import pymongo
from bson import json_util
mode, uri, out = sys.argv[1:4]
name = urlsplit(uri).path.strip("/") or "ceilometer"
client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
db = client[name]
manifest_path = os.path.join(out, "manifest.json")
if mode == "dump":
    os.makedirs(out, exist_ok=True)
    manifest = {"database": name, "collections": {}}
    for coll in sorted(db.list_collection_names()):
        live = db[coll].count_documents({})
        path = os.path.join(out, coll + ".jsonl")
        n = 0
        with open(path, "w") as f:
            for doc in db[coll].find():
                f.write(json_util.dumps(doc, json_options=json_util.CANONICAL_JSON_OPTIONS) + "\n")
                n += 1
            f.flush(); os.fsync(f.fileno())
        indexes = [ix for ix in db[coll].list_indexes() if ix["name"] != "_id_"]
        manifest["collections"][coll] = {"count": n, "live": live, "indexes": json.loads(json_util.dumps(indexes))}
    with open(manifest_path, "w") as f:
        json.dump(manifest, f); f.flush(); os.fsync(f.fileno())
    mode = "verify"
if mode == "verify":
    manifest = json.load(open(manifest_path))
    for coll, meta in manifest["collections"].items():
        read = sum(1 for line in open(os.path.join(out, coll + ".jsonl")) if json_util.loads(line) is not None)
        if not (read == meta["count"] == meta["live"] == db[coll].count_documents({})):
            sys.exit(f"dump NOT verified: {coll}: {read} read back, {meta['count']} dumped, {meta['live']} live "
                     f"before, {db[coll].count_documents({})} live now")
    print(f"dump verified: {sum(m['count'] for m in manifest['collections'].values())} documents in "
          f"{len(manifest['collections'])} collections of {name} at {out}")
elif mode == "drop":
    json.load(open(manifest_path))  # never drop without a manifest of a verified dump
    client.drop_database(name)
elif mode == "restore":
    manifest = json.load(open(manifest_path))
    for coll, meta in manifest["collections"].items():
        if db[coll].count_documents({}) == meta["count"] and meta["count"] > 0:
            continue  # already restored (an undo after a completed restore must not duplicate documents)
        db[coll].drop()
        batch = []
        for line in open(os.path.join(out, coll + ".jsonl")):
            batch.append(json_util.loads(line))
            if len(batch) == 1000:
                db[coll].insert_many(batch); batch = []
        if batch:
            db[coll].insert_many(batch)
        for ix in json_util.loads(json.dumps(meta["indexes"])):
            keys = list(ix["key"].items())
            extra = {k: ix[k] for k in ("expireAfterSeconds", "unique", "sparse") if k in ix}
            db[coll].create_index(keys, name=ix["name"], **extra)
        if db[coll].count_documents({}) != meta["count"]:
            sys.exit(f"restore of {coll} incomplete: {db[coll].count_documents({})} of {meta['count']}")
    print("restored and verified")
'''


def _python(mode: str, uri: str, out: str, python: str = "python3") -> str:
    return f"{python} - {mode} {shlex.quote(uri)} {shlex.quote(out)} <<'STACKCHECK_PY'\n{SCRIPT}\nSTACKCHECK_PY"


@fixer("CEIL-3", risk="data", checks=["test_metering_database_filesystem_below_threshold"])
def compact_metering_database(ctx):
    """Compact the metering database: dump, verify the dump, drop, restore, verify (the notes' procedure)."""
    uri = ctx.lab.get("ceilometer.mongo_uri")
    out = f"{BACKUP_ROOT}/{time.strftime('%Y%m%dT%H%M%S')}-metering-dump"
    tools = ctx.run("command -v mongodump && command -v mongorestore").ok
    py = ctx.lab.get("ceilometer.mongo_python")
    if not tools:
        probe = ctx.run(f"{py} -c 'import sys, pymongo; c = pymongo.MongoClient(sys.argv[1], "
                        f"serverSelectionTimeoutMS=5000); c.admin.command(\"ping\")' {shlex.quote(uri)}")
        if not probe.ok:
            last = (probe.stderr.strip().splitlines() or ["?"])[-1][:200]
            raise RuntimeError(f"no mongodump/mongorestore, and {py} cannot use pymongo with {uri}: {last} "
                               f"(inventory ceilometer.mongo_python)")
    ctx.note(f"the verified dump is kept at {out} on {ctx.target.name}")
    q = shlex.quote
    if tools:  # the real tools: mongodump --out, then the same verification against the BSON files' counts
        dump = f"mongodump --quiet --uri={q(uri)} --out={q(out)}"
        restore = f"mongorestore --quiet --uri={q(uri)} --drop {q(out)}"
        ctx.command(dump, description=f"mongodump {uri} to {out}")
        ctx.command(f"mongorestore --quiet --dryRun --uri={q(uri)} {q(out)}", description="verify the dump (dry run)")
        ctx.command(f"mongosh --quiet {q(uri)} --eval 'db.dropDatabase()'", undo=restore,
                    description="drop the database (undo: restore the dump)")
        ctx.command(restore, description="restore the dump")
        return
    ctx.command(_python("dump", uri, out, py), description=f"dump {uri} to {out} and verify it (refuses on any difference)")
    ctx.command(_python("drop", uri, out, py), undo=_python("restore", uri, out, py),
                description="drop the database (undo: restore the verified dump)")
    ctx.command(_python("restore", uri, out, py), description="restore the dump (documents and indexes) and verify counts")
