# trailwatch's image: built with the Rust toolchain, run on a slim Debian.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin trailwatch

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/trailwatch /usr/local/bin/trailwatch
RUN mkdir -p /var/lib/trailwatch && chown 65534:65534 /var/lib/trailwatch
USER 65534:65534
EXPOSE 9464 9880 5170
ENTRYPOINT ["/usr/local/bin/trailwatch"]
