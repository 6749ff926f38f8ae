#!/bin/sh
# A stand-in for nmap in Run's tests; it sends no packet. It prints progress
# lines as nmap's --stats-every does, then acts as FAKE_NMAP_MODE says:
#   ok      copy FAKE_NMAP_FIXTURE to the -oX path and exit 0
#   fail    write much to standard error and exit 3
#   hang    ignore SIGTERM and wait forever on a child that ignores it too
#   orphan  exit on SIGTERM, leaving a child that ignores it and holds stdout
# It writes its PID to FAKE_NMAP_PIDFILE, if set.
out=
while [ $# -gt 0 ]; do
	case "$1" in
	-oX) shift; out=$1 ;;
	esac
	shift
done
if [ -n "$FAKE_NMAP_PIDFILE" ]; then echo $$ > "$FAKE_NMAP_PIDFILE"; fi

# Signal handling and children are set up before the first progress line,
# on which the tests may cancel.
case "$FAKE_NMAP_MODE" in
hang)
	trap '' TERM
	sleep 1000 &
	;;
orphan)
	trap 'exit 143' TERM
	ready=$(mktemp -u)
	(trap '' TERM; : > "$ready"; exec sleep 1000) &
	while [ ! -e "$ready" ]; do sleep 0.01; done
	rm -f "$ready"
	;;
esac

echo "Starting Nmap 7.93 ( https://nmap.org ) at 2026-11-24 21:06 UTC"
echo "Stats: 0:00:00 elapsed; 0 hosts completed (1 up), 1 undergoing SYN Stealth Scan"
echo "SYN Stealth Scan Timing: About 0.00% done"
echo "Stats: 0:00:01 elapsed; 0 hosts completed (1 up), 1 undergoing SYN Stealth Scan"
printf 'SYN Stealth Scan Timing: About 42.86%% done; ETC: 21:06 (0:00:03 remaining)\r\n'

case "$FAKE_NMAP_MODE" in
ok)
	cp "$FAKE_NMAP_FIXTURE" "$out" || exit 1
	echo "Stats: 0:01:05 elapsed; 3 hosts completed (3 up), 0 undergoing Service Scan"
	echo "Service scan Timing: About 100.00% done; ETC: 21:07 (0:00:00 remaining)"
	echo "Nmap done: 3 IP addresses (3 hosts up) scanned in 6.31 seconds"
	exit 0
	;;
fail)
	i=0
	while [ $i -lt 200 ]; do
		echo "warning line $i: padding padding padding padding padding" >&2
		i=$((i + 1))
	done
	echo "dnet: Failed to open device lo0" >&2
	echo "QUITTING!" >&2
	exit 3
	;;
hang)
	wait
	sleep 1000
	;;
orphan)
	wait
	;;
*)
	echo "fake_nmap: unknown FAKE_NMAP_MODE '$FAKE_NMAP_MODE'" >&2
	exit 2
	;;
esac
