# The two commands of the README:
#   make demo   sets everything up, builds and starts the lab in a box, runs every check, shows the report
#   make test   sets everything up and runs our own tests (unit tests, the healthy lab, the fault matrix)
# Both install what they need on a fresh Debian machine (as root): apt packages, a venv with the project.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := $(shell grep -v '^\#' apt-host.txt)

.PHONY: setup demo test unit coverage bench bench-fleet clean-reports

setup: $(VENV)/.installed
	@# bytecode of our own packages, refreshed each time: where PYTHONDONTWRITEBYTECODE is set (as on these
	@# machines) Python would otherwise compile them from source on every run (~0.2 s); it still reads .pyc files
	@$(PY) -m compileall -q stackcheck labbox fixes >/dev/null

# apt-get update only when a package is missing (a warm machine skips the network entirely)
$(VENV)/.installed: pyproject.toml apt-host.txt
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "== installing Debian packages: $$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=900 $$missing; \
	fi
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	@echo "== installing stackcheck and its Python dependencies into $(VENV)"
	@$(PY) -m pip install -q --disable-pip-version-check -e .
	@touch $@

demo: setup
	$(VENV)/bin/labbox up
	-$(PY) -m pytest --host=labbox
	$(PY) -m stackcheck.coverage --write reports/coverage.md >/dev/null
	@printf '== the reports of this run:\n  JUnit  %s\n  JSON   %s\n  HTML   %s\n  requirement coverage: %s\n' "$(CURDIR)/reports/latest.xml" "$(CURDIR)/reports/latest.json" "$(CURDIR)/reports/latest.html" "$(CURDIR)/reports/coverage.md"

test: setup
	$(VENV)/bin/labbox up
	$(PY) -m stackcheck.coverage --write reports/coverage.md
	$(PY) -m pytest selftest -q

unit: setup
	$(PY) -m pytest selftest/unit -q

coverage: setup
	$(PY) -m stackcheck.coverage

bench: setup
	$(VENV)/bin/labbox up
	$(PY) bench/bench_host_checks.py

# The fleet benchmark (bench/bench_fleet.py): stackcheck, testinfra -n 2 and ansible-playbook on 8, 32 and 128 light
# hosts beside the lab. ansible-core (and py-spy, to profile) go into a venv of the bench's own, not the project's.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed:
	@[ -x $(BENCH_VENV)/bin/python ] || python3 -m venv $(BENCH_VENV)
	@$(BENCH_VENV)/bin/pip install -q --disable-pip-version-check ansible-core py-spy
	@touch $@

bench-fleet: setup $(BENCH_VENV)/.installed
	$(PY) bench/bench_fleet.py --ansible $(BENCH_VENV)/bin/ansible-playbook
