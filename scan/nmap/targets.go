package nmap

// WithTargets adds targets, which come last, after "--". Later calls append.
// Give them in a form nmap reads: addresses, CIDR blocks, nmap's octet ranges
// (198.18.0.1-9) and host names. nmap does not read "from-to" ranges of whole
// addresses; SpecArgs rewrites those as CIDR blocks.
func WithTargets(targets []string) Option {
	return func(b *builder) { b.targets = appendCopy(b.targets, targets) }
}

// WithExcludes adds targets nmap must skip (--exclude a,b). Nothing is added
// when there are none. Later calls append.
func WithExcludes(targets []string) Option {
	return func(b *builder) { b.excludes = appendCopy(b.excludes, targets) }
}

// WithExcludeFile makes nmap also skip the targets listed in the file at
// path (--excludefile), as well as those of WithExcludes: the agent lists
// there the hosts an earlier attempt of the shard finished, which may be
// too many for one argument.
func WithExcludeFile(path string) Option {
	return func(b *builder) { b.excludeFile = path }
}

// WithIPv6 makes nmap scan IPv6 (-6). nmap 7.93 scans one address family per
// run: without -6 it skips IPv6 targets, with it IPv4 ones.
func WithIPv6() Option {
	return func(b *builder) { b.ipv6 = true }
}
