package nmap

// WithInterface makes nmap send through the named interface (-e name).
// Only the agent's configuration chooses it; profiles cannot.
func WithInterface(name string) Option {
	return func(b *builder) { b.iface = name }
}

// WithPrivileged tells nmap it may use raw sockets although it is not root
// (--privileged); the agent adds it when the binary has the capabilities.
func WithPrivileged() Option {
	return func(b *builder) { b.privileged = true }
}
