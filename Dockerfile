# tenantctl's container image: apiserver (the entry point, on :8000) and
# tenantctl, static binaries on an empty base. Also a Containerfile for
# podman/buildah.
#
# Built from what `make image` stages in bin/image/ on the host, the way
# goreleaser builds images: the binaries compiled with CGO_ENABLED=0, the
# host's CA bundle (for sslmode=verify-full against a managed PostgreSQL)
# and a passwd/group naming the non-root user 65532. No time zone data:
# neither binary loads a location (times are UTC). `make image` passes the
# labels' values; nothing secret is baked in, the database URL comes from
# the environment at run time (compose.yaml).
FROM scratch

ARG VERSION=dev
ARG SOURCE=https://github.com/tenantctl/tenantctl
ARG REVISION=unknown
# SPDX: the repository states no licence yet; `make image LICENSES=...`.
ARG LICENSES=NOASSERTION
LABEL org.opencontainers.image.title="tenantctl" \
      org.opencontainers.image.description="Schema-per-tenant multi-tenancy for PostgreSQL: apiserver (REST API and /admin/) and tenantctl" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="${LICENSES}"

COPY bin/image/etc/ /etc/
COPY bin/image/apiserver bin/image/tenantctl /usr/local/bin/

# The only setting the image gives: listen on every interface, port 8000.
# Everything else is apiserver's defaults or the container's environment
# (`apiserver --help` names each flag's variable).
ENV PATH=/usr/local/bin \
    TENANTCTL_ADDR=:8000
USER 65532:65532
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=6s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/apiserver", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/apiserver"]
