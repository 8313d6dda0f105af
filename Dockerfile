# Multi-stage build: the builder compiles the server and its bundled plugins;
# the runtime image holds only them, runs as a non-root user and keeps its state in a volume.
FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p dmconnect -p dmcap-status -p dmcap-ignore -p dmcap-sessions -p dmcap-http-file-upload -p dmcap-history

FROM debian:bookworm-slim
RUN useradd --system --home-dir /var/lib/dmconnect --shell /usr/sbin/nologin dmconnect \
    && mkdir -p /var/lib/dmconnect /etc/dmconnect /usr/lib/dmconnect/capabilities \
    && chown dmconnect:dmconnect /var/lib/dmconnect
COPY --from=builder /src/target/release/dmconnect /usr/bin/dmconnect
COPY --from=builder /src/target/release/libdmcap_status.so /src/target/release/libdmcap_ignore.so \
     /src/target/release/libdmcap_sessions.so /src/target/release/libdmcap_http_file_upload.so \
     /src/target/release/libdmcap_history.so /usr/lib/dmconnect/capabilities/
COPY packaging/dmconnect.toml /etc/dmconnect/dmconnect.toml
USER dmconnect
WORKDIR /var/lib/dmconnect
VOLUME /var/lib/dmconnect
EXPOSE 42439 42440
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/dmconnect"]
CMD ["serve"]
