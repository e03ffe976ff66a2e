# Builds the one `imagegram` binary; every role runs from it.
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake libcurl4-openssl-dev libssl-dev zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin imagegram

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libcurl4 libssl3 zlib1g \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home /data imagegram
COPY --from=build /src/target/release/imagegram /usr/local/bin/imagegram
USER imagegram
WORKDIR /data
ENTRYPOINT ["imagegram"]
