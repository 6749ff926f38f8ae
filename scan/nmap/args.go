// Package nmap is the nmap driver (see scan/driver): nmap command lines,
// nmap run as a child process (with the scanner runner, driver.Run) with
// its progress read from standard output, and resuming a shard by the
// hosts an earlier attempt finished.
package nmap

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Option sets one part of an nmap command line.
type Option func(*builder)

type builder struct {
	ipv6        bool
	privileged  bool
	iface       string
	xmlPath     string
	statsEvery  time.Duration
	excludes    []string
	excludeFile string
	profile     []string
	targets     []string
}

// Args returns nmap's arguments (without the program name) for opts. The
// order is fixed, whatever the order of opts:
//
//	[-6] [--privileged] [-e iface] [-oX path] [--stats-every D] [--exclude a,b] [--excludefile path] profile... [-- targets...]
//
// The options the agent chooses come before the profile's, and the targets
// after "--", so that a profile ending in an option that wants a value (say
// "-p") can swallow nothing but "--" (nmap then fails on a bad value) and can
// never turn the XML path into a target or a target into an option. nmap
// would also read options given after targets (getopt permutes), which
// "--" prevents. The profile cannot override -oX, --exclude or --excludefile (scan.CheckOptions
// refuses them); it may override --stats-every, as nmap takes the last value.
func Args(opts ...Option) []string {
	var b builder
	for _, o := range opts {
		o(&b)
	}
	var out []string
	if b.ipv6 {
		out = append(out, "-6")
	}
	if b.privileged {
		out = append(out, "--privileged")
	}
	if b.iface != "" {
		out = append(out, "-e", b.iface)
	}
	if b.xmlPath != "" {
		out = append(out, "-oX", b.xmlPath)
	}
	if b.statsEvery > 0 {
		out = append(out, "--stats-every", formatInterval(b.statsEvery))
	}
	if len(b.excludes) > 0 {
		out = append(out, "--exclude", strings.Join(b.excludes, ","))
	}
	if b.excludeFile != "" {
		out = append(out, "--excludefile", b.excludeFile)
	}
	out = append(out, b.profile...)
	if len(b.targets) > 0 {
		out = append(out, "--")
		out = append(out, b.targets...)
	}
	return out
}

// formatInterval writes d the way nmap's time options read it: whole
// seconds as "5s", anything else in milliseconds, at least "1ms".
func formatInterval(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	ms := max(int64((d+time.Millisecond-1)/time.Millisecond), 1)
	return strconv.FormatInt(ms, 10) + "ms"
}

func appendCopy(dst, src []string) []string {
	return append(dst, slices.Clone(src)...)
}
