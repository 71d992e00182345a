# slimmer as a container image: the CLI and the static sensor.
#
#   docker build -t slimmer .
#   docker run --rm --network host -v /var/run/docker.sock:/var/run/docker.sock slimmer build app:1.0
#
# The tool talks to the host's Docker daemon through the socket. --network host lets its
# probes reach the ports the app publishes on the host's 127.0.0.1 (docs/CI.md, "The tool
# image"); a batch image without ports needs no network. Options that name files (--probe-file,
# --report, --artifacts, --html) name paths inside this container: mount them, e.g.
# -v "$PWD:/work" -w /work.
#
# Python and its libraries come from Debian's packages (no PyPI access is needed to build
# this image); slimmer itself is copied from the source tree.

FROM debian:bookworm-slim AS sensor
# the stage's image is left untagged by the classic builder: the label finds it for cleanup
LABEL org.slimmer.stage=sensor-build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev make \
 && rm -rf /var/lib/apt/lists/*
COPY slimmer/sensor/ /src/sensor/
RUN make -C /src/sensor && /src/sensor/bin/slim-sensor 2>&1 | head -1

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-docker python3-requests python3-urllib3 python3-tqdm python3-yaml \
 && rm -rf /var/lib/apt/lists/*
COPY LICENSE /usr/share/doc/slimmer/LICENSE
COPY slimmer/ /usr/lib/python3/dist-packages/slimmer/
COPY --from=sensor /src/sensor/bin/slim-sensor /usr/lib/python3/dist-packages/slimmer/sensor/bin/slim-sensor
RUN printf '#!/usr/bin/python3\nimport sys\nfrom slimmer.cli import main\nsys.exit(main())\n' >/usr/local/bin/slim \
 && chmod 0755 /usr/local/bin/slim \
 && python3 -m compileall -q /usr/lib/python3/dist-packages/slimmer \
 && slim --version && slim sensor --path
LABEL org.opencontainers.image.title="slimmer" \
      org.opencontainers.image.description="Make container images small without breaking them" \
      org.opencontainers.image.licenses="Apache-2.0"
ENTRYPOINT ["slim"]
CMD ["--help"]
