# sonde-probe: the `probe` binary, statically linked, on `scratch`.
#
#   docker build -f deploy/docker/probe.Dockerfile -t sonde-probe .   # from the repository root
#   deploy/docker/build                                               # offline, from host-built binaries
#
# The image runs `probe agent` by default; every flag also reads from
# SONDE_PROBE_* (DESIGN.md, "Command lines and configuration"). Give it
# SONDE_PROBE_SCHEDULER, SONDE_PROBE_REGION, SONDE_PROBE_NAME and a token
# file; the spool lives on the /var/lib/sonde volume, so the root
# filesystem can be read-only. Other commands work too:
#   docker run --rm -v "$PWD/scenarios/examples:/scenarios:ro" sonde-probe validate /scenarios

# ---- builder: a static-pie for x86_64-unknown-linux-gnu (the webpki roots are built in).
FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
ENV RUSTFLAGS="-C target-feature=+crt-static"
RUN cargo build --release --locked --bin probe -p sonde-probe --target x86_64-unknown-linux-gnu \
 && mkdir -p /out/rootfs/var/lib /out/empty \
 && cp target/x86_64-unknown-linux-gnu/release/probe /out/rootfs/probe

# ---- runtime: nothing but the binary and an empty, writable data directory.
# deploy/docker/build reuses this stage verbatim with the binaries copied
# from the host instead of from the builder stage.
FROM scratch AS runtime
ARG VERSION=dev
LABEL org.opencontainers.image.title="sonde-probe" \
      org.opencontainers.image.description="Sonde probe: runs synthetic journeys and reports to the scheduler" \
      org.opencontainers.image.source="https://github.com/sonde-monitoring/sonde" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=builder /out/rootfs/ /
# Created by these two COPYs, so owned by the user (their parents stay root's).
COPY --from=builder --chown=65532:65532 /out/empty/ /var/lib/sonde/
COPY --from=builder --chown=65532:65532 /out/empty/ /tmp/
ENV SONDE_PROBE_LISTEN=0.0.0.0:9471 \
    SONDE_PROBE_SPOOL_DIR=/var/lib/sonde/spool
USER 65532:65532
VOLUME ["/var/lib/sonde"]
EXPOSE 9471
STOPSIGNAL SIGTERM
# `probe health` GETs http://127.0.0.1:9471/readyz (ready once a plan is loaded).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["/probe", "health"]
ENTRYPOINT ["/probe"]
CMD ["agent"]
