# syntax=docker/dockerfile:1
# Scantron: one image for `scantron server`, `scantron agent` and
# `scantron migrate`. The agent needs NET_RAW and NET_ADMIN (see
# docker-compose.yml) for nmap/masscan/zmap raw-socket scans. /var/lib/scantron
# is the agent's state (its enrolled settings), a volume in docker-compose.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/scantron ./cmd/scantron

FROM debian:bookworm-slim
# File capabilities let the non-root user open raw sockets with the
# capabilities granted to the container (cap_add), without running as root.
RUN apt-get update \
	&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		ca-certificates nmap masscan zmap libcap2-bin \
	&& setcap cap_net_raw,cap_net_admin+eip /usr/bin/nmap \
	&& setcap cap_net_raw,cap_net_admin+eip /usr/bin/masscan \
	&& setcap cap_net_raw,cap_net_admin+eip /usr/sbin/zmap \
	&& apt-get purge -y libcap2-bin \
	&& apt-get autoremove -y \
	&& rm -rf /var/lib/apt/lists/* \
	&& useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin scantron \
	&& install -d -o scantron -g scantron -m 0700 /var/lib/scantron
COPY --from=build /out/scantron /usr/local/bin/scantron
USER scantron
# nmap: use raw sockets (granted by the file capabilities above).
ENV NMAP_PRIVILEGED=1
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/scantron"]
CMD ["server"]
