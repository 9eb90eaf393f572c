# sonde-scheduler: the `scheduler` binary, statically linked, on `scratch`.
#
#   docker build -f deploy/docker/scheduler.Dockerfile -t sonde-scheduler .   # from the repository root
#   deploy/docker/build                                                       # offline, from host-built binaries
#
# The image serves by default with /etc/sonde/scheduler.toml (listen
# 0.0.0.0:9470, store on the /var/lib/sonde volume, scenarios from
# /etc/sonde/scenarios); mount the catalog there, or your own config over
# the file. The root filesystem can be read-only:
#   docker run --read-only --tmpfs /tmp -v sonde-data:/var/lib/sonde \
#     -v "$PWD/scenarios/examples:/etc/sonde/scenarios:ro" -p 127.0.0.1:9470:9470 sonde-scheduler
# Tokens: docker run --rm -v sonde-data:/var/lib/sonde sonde-scheduler token create --name N --region R

# ---- builder: a static-pie for x86_64-unknown-linux-gnu (SQLite is bundled, the webpki roots built in).
FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
ENV RUSTFLAGS="-C target-feature=+crt-static"
RUN cargo build --release --locked --bin scheduler -p sonde-scheduler --target x86_64-unknown-linux-gnu \
 && mkdir -p /out/rootfs/var/lib /out/rootfs/etc/sonde/scenarios /out/empty \
 && cp deploy/docker/scheduler.toml /out/rootfs/etc/sonde/scheduler.toml \
 && cp target/x86_64-unknown-linux-gnu/release/scheduler /out/rootfs/scheduler

# ---- runtime: the binary, its default config and an empty, writable data directory.
# deploy/docker/build reuses this stage verbatim with the binaries copied
# from the host instead of from the builder stage.
FROM scratch AS runtime
ARG VERSION=dev
LABEL org.opencontainers.image.title="sonde-scheduler" \
      org.opencontainers.image.description="Sonde scheduler: catalog, assignment, ingest, store, metrics and API" \
      org.opencontainers.image.source="https://github.com/sonde-monitoring/sonde" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=builder /out/rootfs/ /
# Created by these two COPYs, so owned by the user (their parents stay root's).
COPY --from=builder --chown=65532:65532 /out/empty/ /var/lib/sonde/
COPY --from=builder --chown=65532:65532 /out/empty/ /tmp/
ENV SONDE_SCHEDULER_CONFIG=/etc/sonde/scheduler.toml
USER 65532:65532
VOLUME ["/var/lib/sonde"]
EXPOSE 9470
STOPSIGNAL SIGTERM
# `scheduler health` GETs http://127.0.0.1:9470/readyz (503 while starting or draining).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["/scheduler", "health"]
ENTRYPOINT ["/scheduler"]
CMD ["serve"]
