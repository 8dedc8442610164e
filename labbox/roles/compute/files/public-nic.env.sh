# The public side of the physical host, shared by the setup steps (sourced; values match labbox/inventory.py).
PUBLIC_NIC=eth0                       # the one physical NIC (the lab bridge side)
PUBLIC_BLOCK=198.19.0.0/28            # routed to this host, served on the external bridge
PUBLIC_GW=198.19.0.1                  # the external bridge's address: hop 0 for the instances
FLOATING_RANGE=198.19.0.2-198.19.0.14 # Neutron's floating pool inside the block
EXTERNAL_BRIDGE=virbr2                # the routed libvirt network's bridge
DATA_BRIDGE=eth1                      # the data network's bridge (the notes' virbr1 renamed eth1)
DATA_NET_IP=198.18.64.1
NIC_NET=${LAB_NET:-198.18.0.0/24}     # the public NIC's own range
NIC_IP=${LAB_IP:-198.18.0.14}
