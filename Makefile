# Two commands: `make run` (the product, on a fresh machine) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The pass budget adapts the engine to the host's speed (transcripts/engine/scheduler.py): tests
# pin it off so that the engine decodes the same way on any CI machine; test_scheduler turns it on.
TEST_ENV := DEBUG=1 TRANSCRIPTION_PASS_BUDGET_S=0 DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/vexa} \
	REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/1} PLATFORM_URLS=simulator

.PHONY: run test lint venv system-deps services demo

$(STAMP): requirements.txt
	@command -v $(PYTHON) >/dev/null || PYTHON=python3; $${PYTHON:-$(PYTHON)} -m venv $(VENV) 2>/dev/null || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

# Debian packages: the bot's browser, and espeak-ng/sox for test speech.
system-deps:
	@missing=""; \
	[ -x /usr/lib/chromium/chromium-headless-shell ] || missing="$$missing chromium chromium-headless-shell"; \
	command -v espeak-ng >/dev/null || missing="$$missing espeak-ng"; \
	command -v sox >/dev/null || missing="$$missing sox"; \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q $$missing; fi

# The tests use the machine's PostgreSQL and Redis: start them if they are down.
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || $(SUDO) pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || $(SUDO) redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
	@for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && exit 0; sleep 1; done; echo "PostgreSQL/Redis did not come up" >&2; exit 1

run: venv system-deps
	./scripts/run_local.sh

test: venv system-deps services
	$(TEST_ENV) $(VENV)/bin/pytest -q --create-db $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=1 $(VENV)/bin/mypy .
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run
	DEBUG=0 SECRET_KEY=ci-only-$$(head -c 96 /dev/urandom | base64 | tr -dc a-zA-Z0-9) \
		ALLOWED_HOSTS=vexa.example.com PUBLIC_BASE_URL=https://vexa.example.com \
		$(PY) manage.py check --deploy --fail-level WARNING

demo: venv system-deps
	./scripts/run_local.sh demo
