# syntax=docker/dockerfile:1
#
#   docker build --build-arg VERSION="$(git describe --tags --always --dirty)" -t fastgate/gateway .
#   docker run --rm -p 8080:8080 -v "$PWD/my.yaml:/etc/gateway/gateway.yaml:ro" fastgate/gateway
#
# The image holds configs/ as /etc/gateway/. Inside a container the admin
# listener must bind a non-loopback address (admin: ":9901") to be reached
# through the published port 9901.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=${VERSION}" \
        -o /out/gateway ./cmd/gateway

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gateway /gateway
COPY configs/ /etc/gateway/
USER nonroot:nonroot
EXPOSE 8080 9901
ENTRYPOINT ["/gateway"]
CMD ["run", "-config", "/etc/gateway/gateway.yaml"]
