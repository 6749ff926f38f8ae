package scan

// Zmap is ZMap, for single-port sweeps of many addresses.
const Zmap Scanner = "zmap"

// whyBandwidth: zmap's -B sets bits per second, which the site's and the
// server's caps (packets per second) cannot be compared with.
const whyBandwidth = "set the rate in packets per second (--rate), which the site's and the server's caps apply to"

// zmapPolicy is what a profile may give zmap: one port, a rate in packets
// per second, a safe probe module and the scan's pace. Its values are
// written bound to their options (--rate=100, -p80): zmap takes any bare
// word for a subnet to scan. Every zmap scan sends raw packets; its rate
// travels in Spec.Rate. The agent chooses the targets (an allowlist file of
// the shard's), the exclusions (a blocklist file of the site's and the
// global ones, in place of zmap's own), the output, and the interface.
var zmapPolicy = optionPolicy{
	options: map[string]optSpec{
		// One port: a zmap scan probes one.
		"-p": intArg(1, 65535), "--target-port": intArg(1, 65535),
		"-r": intArg(1, 100_000_000), "--rate": intArg(1, 100_000_000),
		// Probe modules that send one packet to the target and read its
		// answer; not udp, ntp or upnp, whose --probe-args read files.
		"-M": words("tcp_synscan", "icmp_echoscan"), "--probe-module": words("tcp_synscan", "icmp_echoscan"),
		"-P": intArg(1, 10), "--probes": intArg(1, 10),
		"-c": intArg(0, 300), "--cooldown-time": intArg(0, 300),
		"-e": intArg(0, 1<<62), "--seed": intArg(0, 1<<62),
		"-T": intArg(1, 16), "--sender-threads": intArg(1, 16),
		"-t": intArg(1, 72*3600), "--max-runtime": intArg(1, 72*3600),
		"-N": intArg(1, 1<<31), "--max-results": intArg(1, 1<<31),
		"--retries": intArg(0, 20),
		"-s":        of(argPortRange), "--source-port": of(argPortRange),
		"-v": intArg(0, 5), "--verbosity": intArg(0, 5),
	},
	refused: map[string][]string{
		whyOutput: {"-o", "--output-file", "-O", "--output-module", "-f", "--output-fields", "--output-filter", "--output-args",
			"-m", "--metadata-file", "-u", "--status-updates-file", "-l", "--log-file", "-L", "--log-directory", "-q", "--quiet"},
		whyFiles:     {"-C", "--config", "--probe-args"},
		whyTargets:   {"-b", "--blacklist-file", "-w", "--whitelist-file", "-n", "--max-targets", "--shards", "--shard", "--ignore-invalid-hosts"},
		whyInterface: {"-i", "--interface", "-S", "--source-ip", "-G", "--gateway-mac", "--source-mac", "-X", "--vpn"},
		whyEnv:       {"--cores", "--disable-syslog"},
		whyBandwidth: {"-B", "--bandwidth"},
		whyNothing:   {"-d", "--dryrun", "-h", "--help", "-V", "--version", "--list-probe-modules", "--list-output-modules", "--list-output-fields"},
	},
	refusedShort: []string{"-o", "-O", "-f", "-m", "-u", "-l", "-L", "-C", "-b", "-w", "-n", "-i", "-S", "-G", "-B", "-X", "-q", "-d", "-h", "-V"},
	boundValues:  true,
	alwaysRaw:    true,
	noHostNames:  true,
	defaultRate:  10000,
	rateOptions:  []string{"-r", "--rate"},
}
