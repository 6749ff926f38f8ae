package nmap

import "github.com/scantron/scantron/scan"

// WithProfile adds a profile's options. They come as a scan.OptionSet, so
// only options that passed the allow-list can reach nmap's command line.
// Later calls append.
func WithProfile(set scan.OptionSet) Option {
	return func(b *builder) { b.profile = append(b.profile, set.Args()...) }
}
