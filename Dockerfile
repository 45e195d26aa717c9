# SpeedData: one image for every service and the relay; `sdctl serve <service>` picks one
# (compose.yaml runs one container per service). Build: `docker build -t speeddata .`
#
# BASE: a Debian bookworm image with python3 (3.11, with venv) and apt. The default is the
# usual public one; the tests build on a local debootstrap base (--build-arg BASE=...).
# Debian packages come through apt as usual (skipped when the base has them already). Python
# packages come from ./wheelhouse when it holds wheels (`make wheelhouse` on the host: then
# the build asks no package index), else from the index pip is configured with (the pip
# variables are build arguments: PIP_INDEX_URL, PIP_FIND_LINKS, ...).
ARG BASE=python:3.11-slim-bookworm

# ---- the relay, built from this repository's sources -------------------------------------
FROM ${BASE} AS relay
ARG DEBIAN_FRONTEND=noninteractive
RUN pkgs="gcc make libc6-dev pkg-config libzmq3-dev libjansson-dev"; \
    dpkg -s $pkgs >/dev/null 2>&1 || { apt-get update \
      && apt-get install -y --no-install-recommends $pkgs && rm -rf /var/lib/apt/lists/*; }
COPY native/zmq_relay /src/native/zmq_relay
RUN make -C /src/native/zmq_relay build/zmq_relay

# ---- the services ----------------------------------------------------------------------------
FROM ${BASE}
ARG DEBIAN_FRONTEND=noninteractive
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_FIND_LINKS
ARG PIP_NO_INDEX
ARG PIP_TRUSTED_HOST
# the relay's shared libraries
RUN pkgs="libzmq5 libjansson4"; \
    dpkg -s $pkgs >/dev/null 2>&1 || { apt-get update \
      && apt-get install -y --no-install-recommends $pkgs && rm -rf /var/lib/apt/lists/*; }
ENV VIRTUAL_ENV=/opt/speeddata \
    PATH=/opt/speeddata/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    SPEEDDATA_DATA_DIR=/var/lib/speeddata

# Dependencies first (a layer that only pyproject.toml changes), from the wheelhouse if any.
# `wheelhouse*` may match nothing; pyproject.toml always matches.
COPY pyproject.toml wheelhouse* /tmp/wheels/
RUN python3 -m venv $VIRTUAL_ENV \
    && python3 -c "import tomllib; print('\n'.join(tomllib.load(open('/tmp/wheels/pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && if ls /tmp/wheels/*.whl >/dev/null 2>&1; then set -- --no-index --find-links /tmp/wheels; fi \
    && pip install --no-cache-dir --disable-pip-version-check "$@" -r /tmp/requirements.txt \
    && rm -rf /tmp/wheels /tmp/requirements.txt

# The installation root (/app): the packages, config/ (defaults, sample schemas, pages),
# proto/ and the relay where config/speeddata.yaml expects it. `sdctl` runs from the source
# tree (python -m speeddata), as in a checkout.
WORKDIR /app
COPY config config
COPY proto proto
COPY speeddata speeddata
COPY services services
# The pages' browser libraries (uPlot), as `make deps` (npm ci) put them in node_modules/;
# `node_modules*` may match nothing (then the strip charts have no uPlot to load).
COPY package-lock.json node_modules* node_modules/
COPY --from=relay /src/native/zmq_relay/build/zmq_relay native/zmq_relay/build/zmq_relay
RUN printf '#!/bin/sh\nexec python -m speeddata "$@"\n' > $VIRTUAL_ENV/bin/sdctl \
    && chmod 755 $VIRTUAL_ENV/bin/sdctl \
    && useradd --system --uid 10001 --home-dir /var/lib/speeddata speeddata \
    && mkdir -p /var/lib/speeddata && chown speeddata:speeddata /var/lib/speeddata \
    && python -m compileall -q speeddata services \
    && sdctl --help >/dev/null && native/zmq_relay/build/zmq_relay --help >/dev/null

USER speeddata
VOLUME /var/lib/speeddata
CMD ["sdctl", "up"]
