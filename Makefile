# slimmer: make install && make demo   |   make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SLIM   := $(BIN)/slim
DEMO_APP ?= python-flask

.PHONY: install sensor base-image sample-apps demo test test-unit test-deps bench clean docker-check

install: $(BIN)/python sensor
	$(BIN)/pip install -q -e '.[test]'
	@$(SLIM) --help >/dev/null && echo "installed: $(SLIM)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

sensor:
	$(MAKE) -C slimmer/sensor

docker-check:
	@docker info >/dev/null 2>&1 || { echo "Docker engine not reachable: start dockerd (see README, Prerequisites) or set DOCKER_HOST" >&2; exit 1; }

base-image: docker-check
	bash scripts/base-image.sh

sample-apps: base-image
	bash scripts/sample-apps.sh

demo: sample-apps
	$(SLIM) build slimmer-sample/$(DEMO_APP):latest --probe-file probes/$(DEMO_APP).toml --artifacts .slim-demo

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
	rm -rf .slim-demo build *.egg-info
