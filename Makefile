# The two commands of the README: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PYTEST_ARGS ?=
SOAK_ARGS ?=
APT_INSTALL := apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq

.PHONY: run demo test bench soak base-deps system-deps venv js clean

# Installs what is missing, then serves (memory engine, admin page and demo) until Ctrl-C.
# The start-up log names the admin page and where its password is (config.json).
run: base-deps venv js config.json
	$(BIN)/sockhub --config config.json --port $(PORT) --engine memory --web

# The quick-start demo: no secrets, open http://localhost:$(PORT)/demo/.
demo: base-deps venv js
	$(BIN)/sockhub --insecure --insecure_api --web --port $(PORT)

test: base-deps system-deps venv js
	bash scripts/pytest.sh $(PYTEST_ARGS)

# The benchmark's peers (outside the package), then `bench/run.py --help`.
bench: base-deps venv js
	bash bench/setup.sh

# The 10-minute soak of one node under churn (bench/soak.py): `make soak SOAK_ARGS="--duration 60"`.
soak: base-deps venv js
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

config.json: | venv
	$(BIN)/sockhub genconfig config.json

# Python's venv module and npm, from Debian, only when missing.
base-deps:
	@missing=""; \
	$(PY) -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; $(APT_INSTALL) $$missing; fi

# Debian's redis-server, nginx and chromium, only when missing (tests start them on free ports);
# protoc checks app/dialects/v2/protocol_pb2.py against its schema (tests/dialects/v2/test_schema.py).
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v protoc >/dev/null || missing="$$missing protobuf-compiler"; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; $(APT_INSTALL) $$missing; fi

venv: $(VENV)/.installed

$(VENV)/.installed: setup.cfg setup.py pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/pip install -q --target $(VENV)/cent13 cent==1.3.0
	$(BIN)/pip install -q --target $(VENV)/cent5 cent==5.2.0
	$(BIN)/pip install -q --target $(VENV)/cent3 cent==3.0.1
	touch $@

# npm ci, then the files sockhub serves copied into app/ and transports/
# (app/jsclients.py; git ignores the copies, the wheel build makes its own).
js: node_modules/.installed
	$(PY) -m app.jsclients

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf $(VENV) node_modules app/static/js transports/clientjs build
