package nmap

// WithProfile adds a profile's options, which the caller has already checked
// with scan.CheckOptions (scan.Spec.Validate does). Later calls append.
func WithProfile(options []string) Option {
	return func(b *builder) { b.profile = appendCopy(b.profile, options) }
}
