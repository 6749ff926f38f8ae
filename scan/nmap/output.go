package nmap

import "time"

// WithXMLOutput makes nmap write its XML report to path (-oX). Only the agent
// chooses output paths; an empty path adds nothing.
func WithXMLOutput(path string) Option {
	return func(b *builder) { b.xmlPath = path }
}

// WithStatsEvery makes nmap print a progress line on standard output every d
// (--stats-every), which Run turns into Progress callbacks. d <= 0 adds
// nothing.
//
// nmap 7.93 prints nothing for --stats-every when --noninteractive is also
// given, so a command line that wants progress must not use --noninteractive.
// nmap reads no keys anyway when its standard input is not a terminal, and Run
// gives it /dev/null.
func WithStatsEvery(d time.Duration) Option {
	return func(b *builder) { b.statsEvery = d }
}
