# syntax=docker/dockerfile:1
#
# The gateway as a container image: a static binary on distroless (CA
# certificates, /etc/passwd with the non-root user 65532, nothing else).
#
#   make image                      # docker build with VERSION and COMMIT from git
#   docker run --rm --read-only --tmpfs /tmp -p 8080:8080 fastgate/gateway:VERSION
#   docker run --rm --read-only --tmpfs /tmp -p 8080:8080 -p 9901:9901 \
#       -v "$PWD/conf:/etc/gateway:ro" fastgate/gateway:VERSION
#
# The default configuration is configs/container.yaml: a placeholder that
# answers by itself (no upstream exists in the container) and keeps the
# admin listener on the container's loopback, where /-/config, /-/reload
# and /debug/pprof cannot be reached from outside. Mount your own over
# /etc/gateway/gateway.yaml (or the directory); to scrape /metrics from
# outside, give it `admin: ":9901"` with `admin_auth: { token_file: ... }`
# (see docs/observability.md, Admin listener). The gateway writes no file
# unless discovery.state_file names one: put it under /tmp (a tmpfs with
# --read-only) or on a volume.
#
# The base images are pinned by the digest of their multi-platform index
# (the tag says what the image is, the digest which build of it): golang
# 1.26 as of 1.26.5, and distroless static-debian12:nonroot. To move a pin,
# read the tag's current index digest and replace it, for example
#   docker buildx imagetools inspect golang:1.26 --format '{{json .Manifest.Digest}}'
#   crane digest gcr.io/distroless/static-debian12:nonroot
# or let a bot (Dependabot, Renovate) move them with the tags.

FROM --platform=$BUILDPLATFORM golang:1.26@sha256:3aff6657219a4d9c14e27fb1d8976c49c29fddb70ba835014f477e1c70636647 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false \
        -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
        -o /out/gateway ./cmd/gateway

FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="fastgate gateway" \
      org.opencontainers.image.source="https://github.com/fastgate/gateway" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY --from=build /out/gateway /usr/local/bin/gateway
COPY configs/container.yaml /etc/gateway/gateway.yaml
# nonroot in the distroless /etc/passwd, by number so that runtimes which
# refuse to run a named user as root (runAsNonRoot) can check it.
USER 65532:65532
EXPOSE 8080 9901
ENTRYPOINT ["/usr/local/bin/gateway"]
CMD ["run", "-config", "/etc/gateway/gateway.yaml", "-log-format", "json"]
