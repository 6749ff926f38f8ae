package masscan

// WithXMLOutput makes masscan write its XML report to path (-oX). Only the
// agent chooses output paths; an empty path adds nothing.
func WithXMLOutput(path string) Option {
	return func(b *builder) { b.xmlPath = path }
}
