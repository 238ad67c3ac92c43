SHELL := /bin/bash
.DEFAULT_GOAL := help

KAFKA_PORT ?= 9092
export KAFKA_PORT
KAFKA_BOOTSTRAP := 127.0.0.1:$(KAFKA_PORT)

PYTEST_ARGS ?=
VENV := .venv
KAFKA := bash deploy/kafka/kafka.sh

# uv: the one on PATH, else a private copy bootstrapped into .tools/uv-venv.
UV_VERSION := 0.13.9
UV_LOCAL := .tools/uv-venv/bin/uv
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(UV_LOCAL)
UV_DEP := $(UV_LOCAL)
endif

.PHONY: help install kafka-up kafka-down kafka-status test test-unit lint typecheck contract \
	generate run bench clean prometheus-install rules-check dashboards dashboards-check \
	compose-check k8s-check codegen-check test-unit-py313 install-check browser-install \
	test-browser soak alertmanager-install alertmanager-check

help:
	@echo "targets: install kafka-up kafka-down kafka-status test test-unit lint typecheck"
	@echo "         contract generate run bench clean prometheus-install rules-check dashboards"
	@echo "         dashboards-check compose-check k8s-check codegen-check browser-install"
	@echo "         test-browser soak test-unit-py313 install-check alertmanager-install"
	@echo "         alertmanager-check"
	@echo "make test PYTEST_ARGS='tests/integration -k broker' passes extra args to pytest"

$(UV_LOCAL):
	python3.11 -m venv .tools/uv-venv
	.tools/uv-venv/bin/pip install -q --disable-pip-version-check uv==$(UV_VERSION)

install: $(UV_DEP)
	$(UV) sync --frozen

# The venv is created by `make install`; other targets only need it to exist.
$(VENV)/bin/python:
	$(MAKE) install

kafka-up:
	$(KAFKA) start

kafka-down:
	$(KAFKA) stop

kafka-status:
	$(KAFKA) status

# Starts Kafka, runs the whole suite (or PYTEST_ARGS), always stops Kafka, keeps pytest's exit code.
test: install browser-install alertmanager-install
	@trap '$(KAFKA) stop' EXIT; \
	$(KAFKA) start || exit $$?; \
	KAFKA_BOOTSTRAP_SERVERS=$(KAFKA_BOOTSTRAP) ENGAGEMENT_KAFKA_BOOTSTRAP=$(KAFKA_BOOTSTRAP) \
		$(VENV)/bin/pytest $(PYTEST_ARGS)

test-unit: $(VENV)/bin/python
	$(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

# The unit tests on Python 3.13 too (.venv-py313, from the same lock; scripts/py313.sh).
test-unit-py313: $(UV_DEP)
	UV=$(UV) bash scripts/py313.sh $(PYTEST_ARGS)

# A built wheel installed into a fresh environment gives the three working commands.
install-check: $(UV_DEP)
	UV=$(UV) bash scripts/install_check.sh

# Import contracts live in pyproject.toml [tool.importlinter] (docs/architecture.md).
lint: $(VENV)/bin/python
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache --no-logo
	$(VENV)/bin/deptry shared services

typecheck: $(VENV)/bin/python
	$(VENV)/bin/mypy

# Every committed generated document is fresh: event contract (AsyncAPI, JSON Schemas, and
# its compatibility gate), OpenAPI, settings table and .env.example.
contract: $(VENV)/bin/python
	$(VENV)/bin/python -m engagement.events.contract --check
	$(VENV)/bin/python -m engagement_scorer.openapi_doc --check
	$(VENV)/bin/python -m engagement.settings_doc --check

# Regenerate them all after changing a model, a route or a setting.
generate: $(VENV)/bin/python
	$(VENV)/bin/python -m engagement.events.contract
	$(VENV)/bin/python -m engagement_scorer.openapi_doc
	$(VENV)/bin/python -m engagement.settings_doc

run: $(VENV)/bin/python
	bash scripts/run.sh

bench: $(VENV)/bin/python
	bash scripts/bench.sh

# Long run over event time: does tracked state level off as days leave the window?
SOAK_ARGS ?=
soak: $(VENV)/bin/python
	BENCH_PY=scripts/soak.py bash scripts/bench.sh $(SOAK_ARGS)

# Removes broker data and generated config, keeps the downloaded jars (.kafka/libs).
clean:
	@if [[ -f .kafka/kafka.pid ]] && kill -0 "$$(cat .kafka/kafka.pid)" 2>/dev/null; then \
		echo "Kafka is running: run 'make kafka-down' first" >&2; exit 1; fi
	rm -rf .kafka/data .kafka/kafka.out .kafka/format.out .kafka/mvn.out \
		.kafka/server.properties .kafka/log4j.properties .kafka/kafka.pid

prometheus-install:
	bash scripts/prometheus.sh install

rules-check:
	bash scripts/prometheus.sh check

alertmanager-install:
	bash scripts/alertmanager.sh install

# amtool check-config and the routing tree (deploy/alertmanager/alertmanager.yml).
alertmanager-check:
	bash scripts/alertmanager.sh check

dashboards: $(VENV)/bin/python
	$(VENV)/bin/python -m deploy.dashboards

dashboards-check: $(VENV)/bin/python
	$(VENV)/bin/python -m deploy.dashboards --check

# TypeScript and Python models generated from the bundled AsyncAPI document (@asyncapi/modelina,
# from the npm registry) name the shared enums: one Level, Component, AlertStatus, Severity.
codegen-check: $(VENV)/bin/python
	npm ci --prefix tools/codegen --no-audit --no-fund --loglevel=error
	$(VENV)/bin/python scripts/codegen_check.py

# Kubernetes manifests against the schemas bundled in kubernetes-validate (offline), strictly.
K8S_VERSION ?= 1.31.0
k8s-check: $(VENV)/bin/python
	$(VENV)/bin/kubernetes-validate --strict --quiet -k $(K8S_VERSION) \
		$(filter-out deploy/kubernetes/kustomization.yaml,$(wildcard deploy/kubernetes/*.yaml))

compose-check: $(VENV)/bin/python
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

# Debian's chromium for the UI tests (tests/browser; part of `make test`).
browser-install:
	bash scripts/browser.sh install

test-browser: $(VENV)/bin/python
	bash scripts/browser.sh test
