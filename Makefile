# slimmer: make install && make demo   |   make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SLIM   := $(BIN)/slim
DEMO_APP ?= python-flask
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' slimmer/__init__.py)

.PHONY: install sensor dist tool-image base-image sample-apps demo test test-unit test-deps bench clean docker-check

install: $(BIN)/python sensor
	$(BIN)/pip install -q -e '.[test]'
	@$(SLIM) --help >/dev/null && echo "installed: $(SLIM)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

sensor:
	$(MAKE) -C slimmer/sensor

# dist/: the sdist and the platform wheel with the compiled sensor (setup.py runs the sensor's make)
dist: $(BIN)/python
	$(BIN)/pip install -q build
	$(BIN)/python -m build --outdir dist .

# slimmer as a container image (Dockerfile; docs/CI.md)
tool-image: docker-check
	docker build -t slimmer:$(VERSION) -t slimmer:latest .

docker-check:
	@docker info >/dev/null 2>&1 || { echo "Docker engine not reachable: start dockerd (see README, Prerequisites) or set DOCKER_HOST" >&2; exit 1; }

base-image: docker-check
	bash scripts/base-image.sh

sample-apps: base-image
	bash scripts/sample-apps.sh

# builds only the demo's app (DEMO_APP=nginx-static make demo for another one)
demo: base-image
	@test -x $(SLIM) || { echo "run make install first" >&2; exit 1; }
	bash scripts/sample-apps.sh $(DEMO_APP)
	$(SLIM) build slimmer-sample/$(DEMO_APP):latest --probe-file probes/$(DEMO_APP).toml --artifacts .slim-demo \
	  --html .slim-demo/report.html
	@echo "report: .slim-demo/slim.report.json, .slim-demo/report.html (open it in a browser)"

# System tools the tests drive: chromium renders the HTML reports, debootstrap builds
# the base image, setpriv and mount come with util-linux, the Compose CLI (docker-compose)
# starts the dependencies of --compose-file tests (root is assumed, as for dockerd).
test-deps:
	@missing=""; for tool in chromium debootstrap strace; do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	case "$$missing" in *chromium*) missing="$$missing fonts-liberation";; esac; \
	docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 || missing="$$missing docker-compose"; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi

test: docker-check test-deps base-image sample-apps
	$(BIN)/pytest -ra

test-unit:
	$(BIN)/pytest -ra tests/unit

bench: sample-apps
	$(BIN)/python -m bench

clean:
	$(MAKE) -C slimmer/sensor clean
	rm -rf .slim-demo build dist *.egg-info
