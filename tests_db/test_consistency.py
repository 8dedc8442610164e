"""DBK-9: every DB node holds the same data (read-only table checksums compared across nodes)."""
from __future__ import annotations

import pytest

from stackcheck.probes import galera_checksums
from stackcheck.verdicts import Finding

REMEDIATION = ("A node whose data differs from the others took writes of its own (a second bootstrap, a node run "
               "with wsrep_on=OFF, a rejoin by IST after a split brain). Find which writes the application needs, "
               "then rejoin that node by a full state transfer with its datadir set aside: `pytest --fix "
               "--fix-rejoin` does this and lists the rows that exist only in the set-aside copy.")


@pytest.mark.requirement("DBK-9")
@pytest.mark.role("dbnode")
@pytest.mark.severity("critical")
def test_same_data_on_every_node(lab, connections, evidence):
    comparison = galera_checksums.compare_cluster(connections, lab.hosts("dbnode"))
    evidence["tables_compared"] = comparison.tables
    evidence["differing"] = "; ".join(galera_checksums.describe(t, v) for t, v in comparison.differing.items()) \
        or "none"
    if comparison.differing:
        unsettled = (f" (not compared, written while read: {', '.join(sorted(comparison.unsettled))})"
                     if comparison.unsettled else "")
        raise Finding("the DB nodes hold different data (a diverged cluster): "
                      + "; ".join(galera_checksums.describe(t, v) for t, v in sorted(comparison.differing.items()))
                      + unsettled, remediation=REMEDIATION)
    galera_checksums.require_comparable(comparison)
