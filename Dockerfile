# headroom: a static, non-root image for the CronJob in deploy/ (and headroom serve).
#
#   docker build -t headroom:dev --build-arg VERSION=$(git describe --always) .
#
# The binary is built with CGO_ENABLED=0 (the SQLite store is modernc.org/sqlite,
# pure Go), so it runs on distroless/static: no shell, no libc, no package manager.
# It runs as UID/GID 65532 (distroless "nonroot"), which deploy/cronjob.yaml also
# requires (runAsNonRoot, readOnlyRootFilesystem; the store lives on the PVC).
# test/kube/integration: deploy_render_test.go (TestDockerfile) checks these lines,
# deploy_image_test.go that the binary built this way has no dynamic loader or shared library.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/headroom ./cmd/headroom

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/headroom /usr/local/bin/headroom
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/headroom"]
