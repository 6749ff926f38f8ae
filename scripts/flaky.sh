#!/usr/bin/env bash
# Runs the integration suites again and again on a busy machine, to find the
# tests that pass only when the CPUs are idle. Each round has two passes over
# every package, both while a CPU burner keeps every core busy and with
# several packages running at once (each with its own services, as under
# go test ./...): one as CI runs them, one with GOMAXPROCS=1 (the test
# binaries and everything they start). Each failing test is reported with its messages; a table sums up;
# the exit status is non-zero when anything failed.
#
# Settings (environment, or make variables: make flaky ROUNDS=1 COUNT=1):
#   ROUNDS    rounds to run                                  (default 3)
#   COUNT     go test -count in each pass                    (default 1)
#   PKGS      packages, space separated                      (default below)
#   RUN       go test -run pattern                           (default: all)
#   BURNERS   CPU burner processes                           (default: nproc)
#   PARALLEL  packages run at once in a pass                 (default: 3)
#   TIMEOUT   go test -timeout for each package and pass     (default 30m)
#   LOG_DIR   where the raw -json output is kept             (default: a temp dir)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROUNDS=${ROUNDS:-3}
COUNT=${COUNT:-1}
PKGS=${PKGS:-./e2e/ ./chaos/ ./workers/ ./activities/ ./web/ ./workflows/ ./storage/... ./devstack/ ./cmd/scantron/}
RUN=${RUN:-}
BURNERS=${BURNERS:-$(nproc)}
PARALLEL=${PARALLEL:-3}
TIMEOUT=${TIMEOUT:-30m}
GO=${GO:-go}

work=$(mktemp -d "${TMPDIR:-/tmp}/scantron-flaky.XXXXXX")
LOG_DIR=${LOG_DIR:-$work/logs}
mkdir -p "$LOG_DIR"
burners=()

stop_burners() {
	for pid in "${burners[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	burners=()
}
cleanup() {
	stop_burners
	rm -rf "$work/bin"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_burners() {
	for _ in $(seq "$BURNERS"); do
		yes >/dev/null &
		burners+=("$!")
	done
}

mkdir -p "$work/bin"
if ! $GO build -o "$work/bin/testfails" ./scripts/testfails; then
	echo "flaky: cannot build scripts/testfails" >&2
	exit 2
fi

# The chaos suite runs only when asked.
export SCANTRON_CHAOS=1
runargs=()
if [ -n "$RUN" ]; then
	runargs=(-run "$RUN")
fi

failures="$work/failures"
: >"$failures"
table="$work/table"
: >"$table"
bad=0
green_rounds=0
longest_green=0

echo "flaky: $ROUNDS round(s), -count=$COUNT, $BURNERS CPU burner(s), packages: $PKGS"
echo "flaky: raw output in $LOG_DIR"
# run_pkg runs one package's tests for one pass and writes its table row
# and its failures to files of its own; the pass gathers them when every
# package is done.
run_pkg() {
	local round=$1 pass=$2 pkg=$3 name log started secs status summary result
	name=$(echo "$pkg" | tr -c 'A-Za-z0-9\n' '_')
	log="$LOG_DIR/r$round-$pass-$name.json"
	started=$(date +%s)
	if [ "$pass" = gomaxprocs1 ]; then
		GOMAXPROCS=1 $GO test -json -count="$COUNT" -timeout "$TIMEOUT" "${runargs[@]}" "$pkg" >"$log" 2>&1
	else
		$GO test -json -count="$COUNT" -timeout "$TIMEOUT" "${runargs[@]}" "$pkg" >"$log" 2>&1
	fi
	secs=$(($(date +%s) - started))
	"$work/bin/testfails" -label "round $round $pass" <"$log" >"$work/pass/$name.report"
	status=$?
	summary=$(tail -n 1 "$work/pass/$name.report")
	if [ "$status" -ne 0 ]; then
		head -n -1 "$work/pass/$name.report" >"$work/pass/$name.failures"
		result=FAIL
	else
		result=ok
	fi
	printf '%-6s %-12s %-22s %-5s %5ss  %s\n' "$round" "$pass" "$pkg" "$result" "$secs" "$summary" >"$work/pass/$name.row"
	cat "$work/pass/$name.row"
}

for round in $(seq "$ROUNDS"); do
	round_bad=0
	for pass in busy gomaxprocs1; do
		rm -rf "$work/pass"
		mkdir -p "$work/pass"
		start_burners
		# Up to PARALLEL packages at once, as go test ./... runs them.
		for pkg in $PKGS; do
			while [ "$(jobs -rp | wc -l)" -ge $((PARALLEL + ${#burners[@]})) ]; do
				wait -n
			done
			run_pkg "$round" "$pass" "$pkg" &
		done
		while [ "$(jobs -rp | wc -l)" -gt "${#burners[@]}" ]; do
			wait -n
		done
		stop_burners
		for pkg in $PKGS; do
			name=$(echo "$pkg" | tr -c 'A-Za-z0-9\n' '_')
			cat "$work/pass/$name.row" >>"$table"
			if [ -s "$work/pass/$name.failures" ]; then
				tee -a "$failures" <"$work/pass/$name.failures"
				bad=1
				round_bad=1
			fi
		done
	done
	if [ "$round_bad" -eq 0 ]; then
		green_rounds=$((green_rounds + 1))
		if [ "$green_rounds" -gt "$longest_green" ]; then
			longest_green=$green_rounds
		fi
	else
		green_rounds=0
	fi
	echo "flaky: round $round $([ "$round_bad" -eq 0 ] && echo green || echo RED); $green_rounds green in a row"
done

echo
echo "flaky: summary"
printf '%-6s %-12s %-22s %-5s %6s  %s\n' round pass package result time tests
cat "$table"
echo "flaky: $longest_green of $ROUNDS round(s) green in a row at most"
if [ "$bad" -ne 0 ]; then
	echo
	echo "flaky: failing tests"
	grep '^FAIL ' "$failures"
	exit 1
fi
echo "flaky: no failures"
