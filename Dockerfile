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
# (see the README's Admin listener section). The gateway writes no file
# unless discovery.state_file names one: put it under /tmp (a tmpfs with
# --read-only) or on a volume.
#
# The base images are named by tag, not yet pinned by digest. To pin them,
# look up the digest of each tag where you pull from and append it, e.g.
#   docker buildx imagetools inspect golang:1.26 --format '{{json .Manifest.Digest}}'
#   crane digest gcr.io/distroless/static-debian12:nonroot
#   FROM gcr.io/distroless/static-debian12:nonroot@sha256:<digest>
# and let a bot (Dependabot, Renovate) move the pins with the tags.

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
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

FROM gcr.io/distroless/static-debian12:nonroot
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
