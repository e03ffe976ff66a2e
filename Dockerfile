# Builds the one `imagegram` binary; every role runs from it.
FROM rust:1.95-bookworm AS build
WORKDIR /src
# The same build packages as CI and `./x serve` install: one list, in dev/build-deps.sh.
COPY dev/lib.sh dev/build-deps.sh dev/
RUN dev/build-deps.sh --no-rust && rm -rf /var/lib/apt/lists/*
COPY . .
# The commit `imagegram_build_info` names (build.rs asks git when .git is
# in the context): docker build --build-arg IMAGEGRAM_GIT_COMMIT=$(git rev-parse --short=12 HEAD)
ARG IMAGEGRAM_GIT_COMMIT=
RUN IMAGEGRAM_GIT_COMMIT=$IMAGEGRAM_GIT_COMMIT cargo build --release --locked --bin imagegram

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home /data imagegram
COPY --from=build /src/target/release/imagegram /usr/local/bin/imagegram
USER imagegram
WORKDIR /data
ENTRYPOINT ["imagegram"]
