package masscan

import "time"

// WithRate sets the packets per second (--rate). r <= 0 adds nothing
// (masscan's default is 100).
func WithRate(r float64) Option {
	return func(b *builder) { b.rate = r }
}

// WithWait sets how long masscan waits for replies after sending its last
// probe (--wait, in whole seconds, rounded up; masscan's default is 10). A
// negative d adds nothing; 0 is "--wait 0".
func WithWait(d time.Duration) Option {
	return func(b *builder) { b.wait, b.waitSet = d, d >= 0 }
}

// WithBanners makes masscan complete TCP connections and grab banners
// (--banners), which it reports as extra <host> elements.
func WithBanners() Option {
	return func(b *builder) { b.banners = true }
}
