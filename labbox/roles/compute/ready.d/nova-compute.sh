#!/bin/bash
systemctl is-active -q nova-compute.service
