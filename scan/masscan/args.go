// Package masscan is the masscan driver (see scan/driver): masscan command
// lines, its status lines, resuming a shard at masscan's probe index, and
// merging its one-host-per-port output by address. It runs masscan with
// the scanner runner (driver.Run); its XML output is read by scan/report.
package masscan

import (
	"strconv"
	"strings"
	"time"
)

// Option sets one part of a masscan command line.
type Option func(*builder)

type builder struct {
	xmlPath     string
	excludes    []string
	rate        float64
	wait        time.Duration
	waitSet     bool
	banners     bool
	seed        uint64
	seedSet     bool
	resumeIndex uint64
	interactive bool
	targets     []string
	profile     []string

	adapter, adapterIP, routerMAC string
}

// Args returns masscan's arguments (without the program name) for opts. The
// order is fixed, whatever the order of opts:
//
//	[-oX path] [--exclude a,b] [--rate R] [--wait S] [--banners]
//	[--seed N] [--resume-index I] [--interactive] [--adapter A] [--adapter-ip IP] [--router-mac MAC] [--range=T ...] profile...
//
// Targets are given as --range=T, never as bare words: masscan takes a bare
// word for a target only if it starts with a digit (so not fe80::1), and has
// no "--" to end options. The profile comes last: masscan's "--name value"
// options take the next word whatever it is, so a profile that ends in an
// option without its value then swallows nothing of ours. Being last, the
// profile's --rate, --wait and --banners override those set here.
func Args(opts ...Option) []string {
	var b builder
	for _, o := range opts {
		o(&b)
	}
	var out []string
	if b.xmlPath != "" {
		out = append(out, "-oX", b.xmlPath)
	}
	if len(b.excludes) > 0 {
		out = append(out, "--exclude", strings.Join(b.excludes, ","))
	}
	if b.rate > 0 {
		out = append(out, "--rate", strconv.FormatFloat(b.rate, 'f', -1, 64))
	}
	if b.waitSet {
		secs := int64((b.wait + time.Second - 1) / time.Second)
		out = append(out, "--wait", strconv.FormatInt(secs, 10))
	}
	if b.banners {
		out = append(out, "--banners")
	}
	if b.seedSet {
		out = append(out, "--seed", strconv.FormatUint(b.seed, 10))
	}
	if b.resumeIndex > 0 {
		out = append(out, "--resume-index", strconv.FormatUint(b.resumeIndex, 10))
	}
	if b.interactive {
		out = append(out, "--interactive")
	}
	for _, kv := range [][2]string{{"--adapter", b.adapter}, {"--adapter-ip", b.adapterIP}, {"--router-mac", b.routerMAC}} {
		if kv[1] != "" {
			out = append(out, kv[0], kv[1])
		}
	}
	for _, t := range b.targets {
		out = append(out, "--range="+t)
	}
	return append(out, b.profile...)
}
