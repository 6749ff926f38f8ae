#!/usr/bin/env bash
# install-tools.sh — install everything Scantron's build, dev stack and tests
# need, idempotently. Called by `make tools`.
#
#   * Debian packages: nmap, masscan, zmap, postgresql, iproute2, libcap2-bin,
#     docker-compose, and with --tests chromium (the web UI's browser tests)
#     (one `apt-get update`, only when something is missing).
#   * The `scantron` system user when running as root (PostgreSQL refuses to
#     run as root, so the dev stack runs it as that user).
#   * Go-built tools into ./bin: temporal (dev server), versitygw (S3),
#     staticcheck (lint). Pinned versions; reinstalled when the pin changes.
#   * With --package (or --tests): nfpm, which `make package` builds the .deb
#     with, and the systemd package, whose systemd-analyze checks the units.
#
# Prints one line per thing it installs and nothing when all is present.
# Works as root (CI) and as a normal user with sudo.
set -euo pipefail

for_tests=false
for_package=false
case "${1:-}" in
--tests) for_tests=true for_package=true ;;
--package) for_package=true ;;
esac

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
BIN="$ROOT/bin"

TEMPORAL_MOD="github.com/temporalio/cli"
TEMPORAL_PKG="$TEMPORAL_MOD/cmd/temporal"
TEMPORAL_VERSION="v1.5.1"
VERSITYGW_MOD="github.com/versity/versitygw"
VERSITYGW_PKG="$VERSITYGW_MOD/cmd/versitygw"
VERSITYGW_VERSION="v1.8.0"
STATICCHECK_MOD="honnef.co/go/tools"
STATICCHECK_PKG="$STATICCHECK_MOD/cmd/staticcheck"
STATICCHECK_VERSION="v0.8.2"
NFPM_MOD="github.com/goreleaser/nfpm/v2"
NFPM_PKG="$NFPM_MOD/cmd/nfpm"
NFPM_VERSION="v2.48.0"

say() { printf 'install-tools: %s\n' "$*"; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=(sudo)
	fi
fi

have() { command -v "$1" >/dev/null 2>&1; }
# have_sbin: tools in /usr/sbin or /sbin are not on a normal user's PATH.
have_sbin() { have "$1" || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
have_postgres() {
	local f
	for f in /usr/lib/postgresql/*/bin/initdb; do
		[ -x "$f" ] && return 0
	done
	have initdb && have postgres
}

# --- Debian packages ---------------------------------------------------------
missing=()
have nmap || missing+=(nmap)
have masscan || missing+=(masscan)
have_sbin zmap || missing+=(zmap)
have_postgres || missing+=(postgresql)
have_sbin ip || missing+=(iproute2)
have_sbin setcap || missing+=(libcap2-bin)
have docker-compose || missing+=(docker-compose)
$for_tests && ! have chromium && missing+=(chromium)
$for_package && ! have systemd-analyze && missing+=(systemd)

if [ "${#missing[@]}" -gt 0 ]; then
	if ! have apt-get; then
		say "missing ${missing[*]} and no apt-get: install them by hand" >&2
		exit 1
	fi
	if [ "$(id -u)" -ne 0 ] && [ "${#SUDO[@]}" -eq 0 ]; then
		say "missing ${missing[*]}: need root or sudo to install" >&2
		exit 1
	fi
	say "apt-get install ${missing[*]}"
	log="$(mktemp)"
	if ! { "${SUDO[@]}" apt-get update -q &&
		"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		rm -f "$log"
		say "apt-get failed" >&2
		exit 1
	fi
	rm -f "$log"
	# The postgresql package starts a system cluster on 5432 on Debian; the dev
	# stack runs its own clusters and does not need it, so leave it alone.
fi

# --- scantron system user (root only) ------------------------------------------
if [ "$(id -u)" -eq 0 ] && ! id -u scantron >/dev/null 2>&1; then
	say "useradd scantron (system user for PostgreSQL in the dev stack)"
	useradd --system --no-create-home --shell /usr/sbin/nologin scantron
fi

# --- Go tools into ./bin -------------------------------------------------------
# installed_version BINARY MODULE: the module version recorded in the binary.
installed_version() {
	[ -x "$1" ] || return 0
	go version -m "$1" 2>/dev/null | awk -v mod="$2" '$1 == "mod" && $2 == mod { print $3 }'
}

go_tool() { # go_tool NAME PACKAGE MODULE VERSION
	local name="$1" pkg="$2" mod="$3" version="$4" have_v
	have_v="$(installed_version "$BIN/$name" "$mod")"
	if [ "$have_v" = "$version" ]; then
		return 0
	fi
	say "go install $pkg@$version -> bin/$name"
	mkdir -p "$BIN"
	local log
	log="$(mktemp)"
	if ! GOBIN="$BIN" GOFLAGS=-buildvcs=false go install "$pkg@$version" >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		rm -f "$log"
		say "go install $pkg@$version failed" >&2
		exit 1
	fi
	rm -f "$log"
}

go_tool temporal "$TEMPORAL_PKG" "$TEMPORAL_MOD" "$TEMPORAL_VERSION"
go_tool versitygw "$VERSITYGW_PKG" "$VERSITYGW_MOD" "$VERSITYGW_VERSION"
go_tool staticcheck "$STATICCHECK_PKG" "$STATICCHECK_MOD" "$STATICCHECK_VERSION"
if $for_package; then
	go_tool nfpm "$NFPM_PKG" "$NFPM_MOD" "$NFPM_VERSION"
fi
