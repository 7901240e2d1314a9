# syntax=docker/dockerfile:1
#
# The gateway as a container image: a static binary on distroless (CA
# certificates, /etc/passwd with the non-root user 65532, nothing else).
#
#   make image                      # docker build with VERSION and COMMIT from git
#   docker run --rm --read-only --tmpfs /tmp -p 8080:8080 -p 9901:9901 fastgate/gateway:VERSION
#   docker run --rm --read-only --tmpfs /tmp -p 8080:8080 -p 9901:9901 \
#       -v "$PWD/my.yaml:/etc/gateway/gateway.yaml:ro" fastgate/gateway:VERSION
#
# The default configuration is configs/gateway.yaml with its admin listener
# on 0.0.0.0:9901 instead of 127.0.0.1:9901, which no published port could
# reach. A configuration of your own needs `admin: "0.0.0.0:9901"` (or
# ":9901") for /metrics, /healthz and /readyz to be reachable. The gateway
# writes no file unless discovery.state_file names one: put it under /tmp
# (a tmpfs with --read-only) or on a volume.

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
# The image's configuration: the default one, admin on all interfaces.
RUN mkdir -p /out/etc/gateway \
 && sed 's/^admin: "127\.0\.0\.1:9901"$/admin: "0.0.0.0:9901"/' configs/gateway.yaml > /out/etc/gateway/gateway.yaml \
 && grep -qx 'admin: "0.0.0.0:9901"' /out/etc/gateway/gateway.yaml \
 || { echo 'configs/gateway.yaml: no line admin: "127.0.0.1:9901" to rewrite'; exit 1; }

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="fastgate gateway" \
      org.opencontainers.image.source="https://github.com/fastgate/gateway" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY --from=build /out/gateway /usr/local/bin/gateway
COPY --from=build /out/etc/gateway/gateway.yaml /etc/gateway/gateway.yaml
# nonroot in the distroless /etc/passwd, by number so that runtimes which
# refuse to run a named user as root (runAsNonRoot) can check it.
USER 65532:65532
EXPOSE 8080 9901
ENTRYPOINT ["/usr/local/bin/gateway"]
CMD ["run", "-config", "/etc/gateway/gateway.yaml", "-log-format", "json"]
