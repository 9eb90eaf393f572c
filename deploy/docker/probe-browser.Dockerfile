# sonde-probe-browser: the `probe` binary next to Debian's Chromium, for
# `kind = "browser"` steps. The probe starts Chromium itself
# (--browser-path /usr/bin/chromium) on the first browser step and announces
# the `browser` capability, so the scheduler gives it browser scenarios.
#
#   docker build -f deploy/docker/probe-browser.Dockerfile -t sonde-probe-browser .   # from the repository root
#
# The same image is the headless Chromium of the sidecar form (a plain
# sonde-probe with --browser ws://127.0.0.1:9222 next to it; see
# compose.yaml's probe-browser services and the Kubernetes overlay
# overlays/browser-eu-west-1):
#   docker run --entrypoint /usr/bin/chromium sonde-probe-browser --headless \
#     --remote-debugging-address=127.0.0.1 --remote-debugging-port=9222 …
#
# Unlike sonde-probe it needs a base image with apt: deploy/docker/build
# (offline, from host-built binaries) does not build it.

# ---- builder: the same static probe as probe.Dockerfile.
FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
ENV RUSTFLAGS="-C target-feature=+crt-static"
RUN cargo build --release --locked --bin probe -p sonde-probe --target x86_64-unknown-linux-gnu \
 && mkdir -p /out \
 && cp target/x86_64-unknown-linux-gnu/release/probe /out/probe

# ---- runtime: Debian with its chromium and fonts for screenshots.
FROM debian:bookworm-slim AS runtime
ARG VERSION=dev
LABEL org.opencontainers.image.title="sonde-probe-browser" \
      org.opencontainers.image.description="Sonde probe with a headless Chromium for browser steps" \
      org.opencontainers.image.source="https://github.com/sonde-monitoring/sonde" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium fonts-liberation ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 65532 sonde \
 && useradd --uid 65532 --gid 65532 --home-dir /var/lib/sonde --no-create-home --shell /usr/sbin/nologin sonde \
 && install -d -o 65532 -g 65532 /var/lib/sonde
COPY --from=builder /out/probe /probe
# Chromium writes its profile under the probe's temporary directory (/tmp)
# and caches under HOME: mount both writable (a volume, a tmpfs), and the
# root filesystem can be read-only. Running as non-root, the started
# Chromium keeps its sandbox, which needs unprivileged user namespaces in
# the container (docs/deploy.md, "Browser probes").
ENV SONDE_PROBE_LISTEN=0.0.0.0:9471 \
    SONDE_PROBE_SPOOL_DIR=/var/lib/sonde/spool \
    HOME=/var/lib/sonde
USER 65532:65532
VOLUME ["/var/lib/sonde"]
EXPOSE 9471
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["/probe", "health"]
ENTRYPOINT ["/probe"]
CMD ["agent", "--browser-path", "/usr/bin/chromium"]
