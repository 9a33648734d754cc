# Two commands do everything from a fresh clone:
#   make demo   set up, start a local collector on DuckDB, scan this host, show what was found
#   make test   set up (system packages included) and run the whole test suite
# Everything else here is what those two are made of.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Real servers the integration tests start on 127.0.0.1: OpenSSH sshd, net-snmp snmpd (and its
# command-line tools to cross-check); rpm and db5.3-util, whose rpmbuild, rpm and db5.3_load write real
# rpm databases (SQLite and Berkeley DB) that the agent's direct readers are checked against.
SYSTEM_PACKAGES := openssh-server openssh-client snmpd snmp rpm db5.3-util
# What the tests run from those packages. A missing one fails `make test` here, by name, rather than
# letting tests skip (tests/programs.py searches the same places and fails the same way).
REQUIRED_PROGRAMS := sshd ssh-keygen snmpd snmpget rpmbuild rpm db5.3_load

.PHONY: demo test setup system-packages check-system lint typecheck unit proto bench mutants dist clean

demo: setup
	$(BIN)/python deploy/demo.py

test: system-packages check-system setup lint typecheck
	$(BIN)/pytest -q

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[collector,dev]'
	touch $@

# Installs only what is missing, so it is quick when everything is there (needs root, as CI has).
system-packages:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg-query -W -f '$${db:Status-Status}\n' $$p 2>/dev/null | grep -qx installed || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing system packages:" $$missing; \
		apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq $$missing >/dev/null; \
	fi

check-system:
	@missing=""; for p in $(REQUIRED_PROGRAMS); do \
		PATH="$$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "make test: not installed:$$missing. The integration tests run the real programs and do not skip;" >&2; \
		echo "install the Debian packages $(SYSTEM_PACKAGES) (as root: make system-packages)." >&2; \
		exit 1; \
	fi

lint: setup
	$(BIN)/ruff check .

# mypy cannot follow the editable install's import hook, so it reads the estate.* packages through
# a tree of directory links that mirrors the installed layout.
typecheck: setup
	@mkdir -p .typecheck/estate
	@ln -sfn ../../agent .typecheck/estate/agent; ln -sfn ../../collector .typecheck/estate/collector
	@ln -sfn ../../proto/estate/v1 .typecheck/estate/v1; ln -sfn ../../rules .typecheck/estate/rules
	MYPYPATH=.typecheck $(BIN)/mypy -p estate.agent -p estate.collector
	MYPYPATH=.typecheck $(BIN)/mypy tests bench deploy

proto: setup
	$(BIN)/python -m grpc_tools.protoc -I proto --python_out=proto --pyi_out=proto --grpc_python_out=proto proto/estate/v1/*.proto

# A wheel and an sdist in dist/, for installing with pip from the file or an internal index.
dist: setup
	rm -rf dist build
	$(BIN)/python -m build --outdir dist .

bench: setup
	$(BIN)/python bench/run.py

# Mutation testing (bench/mutants.py): the mutations issue 17 listed, then cosmic-ray over delivery,
# validation and scoring (a subset, about 15 minutes). It edits those files in place and restores them.
mutants: setup
	$(BIN)/pip install --quiet 'cosmic-ray>=8.4'
	$(BIN)/python bench/mutants.py

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache
