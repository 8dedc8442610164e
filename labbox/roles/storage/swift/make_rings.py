#!/usr/bin/python3
"""1-replica account/container/object rings (part power 8) for one device on this node, in one interpreter
(9 swift-ring-builder runs take ~7 s; this < 1 s). usage: make_rings.py SWIFT_DIR IP"""
import os
import sys

from swift.common.ring import RingBuilder

swift_dir, ip = sys.argv[1], sys.argv[2]
for kind, port in (("account", 6202), ("container", 6201), ("object", 6200)):
    b = RingBuilder(8, 1, 1)
    b.add_dev({"id": 0, "region": 1, "zone": 1, "ip": ip, "port": port, "replication_ip": ip,
               "replication_port": port, "device": "d1", "weight": 100, "meta": ""})
    b.rebalance()
    b.get_ring().save(os.path.join(swift_dir, kind + ".ring.gz"))
    b.save(os.path.join(swift_dir, kind + ".builder"))
