package masscan

import "slices"

// WithTargets adds targets (addresses, CIDR blocks, from-to ranges; masscan
// does not resolve host names), each as --range=T. Later calls append.
func WithTargets(targets []string) Option {
	return func(b *builder) { b.targets = append(b.targets, slices.Clone(targets)...) }
}

// WithExcludes adds targets masscan must skip (--exclude a,b). Nothing is
// added when there are none. Later calls append.
func WithExcludes(targets []string) Option {
	return func(b *builder) { b.excludes = append(b.excludes, slices.Clone(targets)...) }
}
