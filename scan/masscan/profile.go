package masscan

import "slices"

// WithProfile adds a profile's options, which the caller has already checked
// with scan.CheckOptions (scan.Spec.Validate does). They come last. Later
// calls append.
func WithProfile(options []string) Option {
	return func(b *builder) { b.profile = append(b.profile, slices.Clone(options)...) }
}
