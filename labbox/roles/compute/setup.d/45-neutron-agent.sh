#!/bin/bash
# The OVS agent on the compute node (no bridge mappings: the instances' networks are the projects' vxlan ones).
. /opt/labbox/lib/neutron-agent.sh
