package scan

import "time"

// nmapPolicy is what a profile may give nmap. Values are written as nmap
// reads them: glued where nmap reads them only so (-T4, -PS22), otherwise
// as a word of their own.
var nmapPolicy = optionPolicy{
	options: map[string]optSpec{
		// Scan techniques.
		"-sS": rawFlag(), "-sT": flag(), "-sA": rawFlag(), "-sW": rawFlag(), "-sM": rawFlag(),
		"-sU": rawFlag(), "-sN": rawFlag(), "-sF": rawFlag(), "-sX": rawFlag(), "-sY": rawFlag(),
		"-sZ": rawFlag(), "-sO": rawFlag(), "--scanflags": of(argText),
		// Host discovery.
		"-sL": flag(), "-sn": flag(), "-sP": flag(), "-Pn": flag(), "-PE": rawFlag(), "-PP": rawFlag(), "-PM": rawFlag(),
		"-PR": rawFlag(), "-PS": {kind: argPorts, glued: true, optional: true, raw: true},
		"-PA": {kind: argPorts, glued: true, optional: true, raw: true},
		"-PU": {kind: argPorts, glued: true, optional: true, raw: true},
		"-PY": {kind: argPorts, glued: true, optional: true, raw: true},
		"-PO": {kind: argProtos, glued: true, optional: true, raw: true},
		"-n":  flag(), "-R": flag(), "--system-dns": flag(), "--traceroute": rawFlag(),
		"--disable-arp-ping": flag(), "--discovery-ignore-rst": flag(),
		// Ports.
		"-p": of(argPorts), "--exclude-ports": of(argPorts), "-F": flag(), "-r": flag(),
		"--top-ports": intArg(1, 65536), "--port-ratio": of(argFloat), "--allports": flag(),
		// Services, scripts, OS.
		"-sV": flag(), "--version-intensity": intArg(0, 9), "--version-light": flag(), "--version-all": flag(),
		"--version-trace": flag(), "-sC": flag(), "--script": of(argScripts), "--script-args": of(argScriptArgs),
		"--script-trace": flag(), "--script-timeout": timeArg(0, 24*time.Hour),
		"-O": rawFlag(), "--osscan-limit": rawFlag(), "--osscan-guess": rawFlag(), "--fuzzy": rawFlag(),
		"--max-os-tries": intArg(1, 50), "-A": rawFlag(),
		// Timing and performance.
		"-T": {kind: argTiming, glued: true},
		// Bounds: parallelism and host groups well above nmap's own
		// defaults (T4: up to 300 probes, groups of 1024) but short of
		// what floods a network; delays and timeouts that cannot stall a
		// run for days; packet rates also under the server's ceiling
		// (OptionSet.CheckRateCeiling).
		"--min-hostgroup": intArg(1, 4096), "--max-hostgroup": intArg(1, 4096),
		"--min-parallelism": intArg(1, 256), "--max-parallelism": intArg(1, 1024),
		"--min-rtt-timeout": timeArg(0, time.Minute), "--max-rtt-timeout": timeArg(0, time.Minute),
		"--initial-rtt-timeout": timeArg(0, time.Minute), "--max-retries": intArg(0, 20),
		"--host-timeout": timeArg(0, 72*time.Hour), "--scan-delay": timeArg(0, time.Minute),
		"--max-scan-delay": timeArg(0, time.Minute), "--min-rate": of(argFloat), "--max-rate": of(argFloat),
		"--defeat-rst-ratelimit": flag(), "--defeat-icmp-ratelimit": flag(), "--stats-every": timeArg(time.Second, 24*time.Hour),
		// Packets.
		"-f": rawFlag(), "--mtu": {kind: argInt, min: 8, max: 65535, raw: true},
		"-g": of(argPortRange), "--source-port": of(argPortRange),
		"--data": {kind: argHex, raw: true}, "--data-string": {kind: argText, raw: true},
		"--data-length": {kind: argInt, min: 0, max: 1400, raw: true},
		"--ttl":         {kind: argInt, min: 1, max: 255, raw: true}, "--randomize-hosts": flag(), "--badsum": rawFlag(),
		// What nmap reports.
		"-v": gluedInt(0, 10), "-vv": flag(), "-vvv": flag(), "-d": gluedInt(0, 9), "--reason": flag(),
		"--open": flag(), "--packet-trace": flag(), "--no-stylesheet": flag(), "-6": flag(), "-4": flag(),
	},
	refused: map[string][]string{
		whyOutput:    {"-oN", "-oX", "-oG", "-oA", "-oS", "-oM", "-oH", "--append-output", "--stylesheet", "--webxml", "--log-errors", "--resume"},
		whyFiles:     {"--datadir", "--servicedb", "--versiondb", "--script-args-file", "--script-updatedb"},
		whyTargets:   {"-iL", "-iR", "--exclude", "--excludefile"},
		whyInterface: {"-e", "-S", "-D", "--spoof-mac", "--send-eth", "--send-ip"},
		whyEnv:       {"--privileged", "--unprivileged", "--release-memory", "--nsock-engine"},
		whyElsewhere: {"-b", "-sI", "--proxies", "--proxy", "--dns-servers"},
		whyNothing:   {"--iflist", "-h", "--help", "-V", "--version", "--script-help"},
	},
	refusedShort: []string{"-iL", "-iR", "-oN", "-oX", "-oG", "-oA", "-oS", "-oM", "-oH", "-e", "-S", "-D", "-b", "-sI"},
	longOnly:     true,
	rateOptions:  []string{"--min-rate", "--max-rate"},
	capByOptions: true,
	defaultPorts: 1000,
}
