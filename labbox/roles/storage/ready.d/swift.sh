#!/bin/bash
# Swift: every server and the proxy active and answering /healthcheck
systemctl is-active --quiet swift-account swift-container swift-object swift-proxy || exit 1
for port in 6200 6201 6202; do curl -sf --max-time 5 -o /dev/null "http://$LAB_IP:$port/healthcheck" || exit 1; done
curl -sf --max-time 5 http://127.0.0.1:8080/healthcheck | grep -qx OK
