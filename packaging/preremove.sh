#!/bin/sh
# Stop the services before their binary goes.
set -e

if [ "$1" = "remove" ] && [ -d /run/systemd/system ]; then
	systemctl stop scantron-agent.service scantron-server.service >/dev/null 2>&1 || true
	systemctl disable scantron-agent.service scantron-server.service >/dev/null 2>&1 || true
fi
exit 0
