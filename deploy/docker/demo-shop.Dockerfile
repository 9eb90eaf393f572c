# sonde-demo-shop: the demo target (`demo-shop` from the sonde-tests crate),
# statically linked, on `scratch`.
#
#   docker build -f deploy/docker/demo-shop.Dockerfile -t sonde-demo-shop .   # from the repository root
#   deploy/docker/build                                                       # offline, from host-built binaries
#
# Serves HTTP on 9480, HTTPS on 9443 and DNS (UDP and TCP) on 9453 on every
# interface of the container; its test CA is written to
# /var/lib/sonde/demo-ca.pem (a volume: share it with probes for --ca-file).
# SHOP_PASSWORD sets the password (default `demo`).

# ---- builder: a static-pie for x86_64-unknown-linux-gnu.
FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
ENV RUSTFLAGS="-C target-feature=+crt-static"
RUN cargo build --release --locked --bin demo-shop -p sonde-tests --target x86_64-unknown-linux-gnu \
 && mkdir -p /out/rootfs/var/lib /out/empty \
 && cp target/x86_64-unknown-linux-gnu/release/demo-shop /out/rootfs/demo-shop

# ---- runtime: the binary and an empty, writable state directory.
# deploy/docker/build reuses this stage verbatim with the binaries copied
# from the host instead of from the builder stage.
FROM scratch AS runtime
ARG VERSION=dev
LABEL org.opencontainers.image.title="sonde-demo-shop" \
      org.opencontainers.image.description="Sonde demo shop: the target of the example journeys, with per-region fault injection" \
      org.opencontainers.image.source="https://github.com/sonde-monitoring/sonde" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=builder /out/rootfs/ /
# Created by these two COPYs, so owned by the user (their parents stay root's).
COPY --from=builder --chown=65532:65532 /out/empty/ /var/lib/sonde/
COPY --from=builder --chown=65532:65532 /out/empty/ /tmp/
ENV SHOP_HTTP=0.0.0.0:9480 \
    SHOP_HTTPS=0.0.0.0:9443 \
    SHOP_DNS=0.0.0.0:9453 \
    SHOP_STATE_DIR=/var/lib/sonde
USER 65532:65532
VOLUME ["/var/lib/sonde"]
EXPOSE 9480 9443 9453 9453/udp
STOPSIGNAL SIGTERM
# `demo-shop health` GETs /healthz on SHOP_HTTP.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["/demo-shop", "health"]
ENTRYPOINT ["/demo-shop"]
CMD ["serve"]
