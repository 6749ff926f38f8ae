package masscan

import "github.com/scantron/scantron/scan"

// WithProfile adds a profile's options. They come as a scan.OptionSet, so
// only options that passed the allow-list can reach masscan's command line.
// They come last. Later calls append.
func WithProfile(set scan.OptionSet) Option {
	return func(b *builder) { b.profile = append(b.profile, set.Args()...) }
}
