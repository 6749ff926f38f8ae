#!/bin/sh
# Make the services' system users. /etc/scantron stays root's: systemd
# reads the config files there and hands each service its own copy.
set -e

if [ "$1" = "configure" ]; then
	for user in scantron-agent scantron-server; do
		if ! getent passwd "$user" >/dev/null; then
			useradd --system --user-group --no-create-home --home-dir /nonexistent \
				--shell /usr/sbin/nologin --comment "Scantron ${user#scantron-}" "$user"
		fi
	done
	chown root:root /etc/scantron
	chmod 0700 /etc/scantron
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload >/dev/null 2>&1 || true
	fi
fi
exit 0
