package scan

// masscanPolicy is what a profile may give masscan. Its options come with
// their values bound (--rate=100, -p80): masscan takes the word after any
// option it does not know to be a flag as its value (which flags those are
// differs between versions), so no value may stand as a word of its own,
// where it could be taken for a target. Every masscan scan sends raw
// packets; its rate travels in Spec.Rate.
var masscanPolicy = optionPolicy{
	options: map[string]optSpec{
		"-p": of(argPorts), "--ports": of(argPorts), "--port": of(argPorts), "--top-ports": intArg(1, 65536),
		"--rate": of(argFloat), "--max-rate": of(argFloat), "--banners": flag(), "--wait": intArg(0, 3600),
		"--retries": intArg(0, 20), "--max-retries": intArg(0, 20), "--ttl": intArg(1, 255),
		"--source-port": of(argPortRange), "--seed": intArg(0, 1<<62), "--shard": of(argShard),
		"--ping": flag(), "--open": flag(), "--open-only": flag(), "--connection-timeout": intArg(1, 3600),
		"--http-user-agent": of(argText),
		"--capture":         words("cert", "html", "heartbleed", "ticketbleed"),
		"--nocapture":       words("cert", "html", "heartbleed", "ticketbleed"),
		// nmap-compatible spellings masscan accepts and ignores.
		"-sS": flag(), "-Pn": flag(), "-n": flag(),
	},
	refused: map[string][]string{
		whyOutput: {"-oX", "-oG", "-oJ", "-oL", "-oB", "-oD", "-oH", "-oU", "-o", "--output-filename", "--output-format",
			"--output-append", "--append-output", "--output-status", "--resume", "--resume-index", "--resume-count", "--echo", "--echo-all", "--pcap"},
		whyFiles:     {"-c", "--conf", "--readscan", "--readrange", "--pcap-payloads", "--nmap-payloads", "--hello-file", "--nmap-service-probes"},
		whyTargets:   {"-iL", "--includefile", "--excludefile", "--exclude", "--range", "--include"},
		whyInterface: {"-e", "--adapter", "--adapter-ip", "--adapter-mac", "--adapter-port", "--adapter-vlan", "--router-mac", "--router-ip", "--source-ip", "--source-mac", "-S"},
		whyEnv:       {"--privileged", "--unprivileged", "--interactive", "--pfring", "--sendq", "--lua"},
		whyNothing:   {"--iflist", "--selftest", "--regress", "--benchmark", "-h", "--help", "-V", "--version", "--offline"},
	},
	refusedShort: []string{"-iL", "-oX", "-oG", "-oJ", "-oL", "-oB", "-oD", "-oH", "-oU", "-c", "-e", "-S"},
	boundValues:  true,
	alwaysRaw:    true,
	noHostNames:  true,
	defaultRate:  100,
	rateOptions:  []string{"--rate", "--max-rate"},
}
