#!/bin/bash
# Keystone answers the identity v3 API on :5000 and the service is active
systemctl is-active --quiet keystone && curl -sf --max-time 5 http://127.0.0.1:5000/v3 | grep -q '"id": "v3'
