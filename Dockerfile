# The app as a container image, for Azure Container Apps and App Service
# (docs/11-deploy-a-container.md): a static binary on an empty base, run as a
# non-root user, serving plain HTTP behind the platform's HTTPS ingress.
#
#   docker build -t ms-identity-go-webapp .
#   az acr build --registry <registry> --image ms-identity-go-webapp:v1 .
#
# The base images are build arguments, so that the image can be built where
# no public registry is reachable (deploy/container_test.go builds it so),
# or on a distroless base:
#   --build-arg BASE_IMAGE=gcr.io/distroless/static-debian12

ARG GO_IMAGE=golang:1.26
ARG BASE_IMAGE=scratch

FROM ${GO_IMAGE} AS build
WORKDIR /src
# The modules first, in a layer of their own: it is rebuilt only when
# go.mod or go.sum change, not at every change of the code.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# A static binary (no cgo: the final image has no C library), without the
# build's paths or debug tables. The empty directory is where file sessions
# go (SESSION_DIR below), made here because the final image has no mkdir.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ms-identity-go-webapp . \
 && mkdir /out/sessions

FROM ${BASE_IMAGE}
# The CA bundle: the app verifies Entra ID's and Graph's certificates.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/ms-identity-go-webapp /ms-identity-go-webapp
COPY --from=build --chown=65532:65532 /out/sessions /sessions
# A numeric user, as an empty base has no /etc/passwd: 65532 is distroless's
# "nonroot". The user owns nothing in the image but /sessions.
USER 65532:65532
# Plain HTTP on every interface, for the platform's ingress, which
# terminates HTTPS (TRUSTED_PROXIES must name it: start-up says so). File
# sessions need a writable volume mounted at /sessions; Redis sessions
# (SESSION_TYPE=redis, REDIS_URL) need nothing writable, and the root file
# system may be read-only.
ENV HOST=0.0.0.0 PORT=8000 TLS=off SESSION_DIR=/sessions
EXPOSE 8000
# The binary checks its own /healthz: the image has no shell and no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/ms-identity-go-webapp", "-healthcheck"]
ENTRYPOINT ["/ms-identity-go-webapp"]
