package driver

import "testing"

func TestCapRate(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{0, 0}, 0}, {[]float64{5000, 0}, 5000}, {[]float64{0, 300}, 300}, {[]float64{5000, 300}, 300}} {
		if got := CapRate(tt.in...); got != tt.want {
			t.Errorf("CapRate(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestLimitRate(t *testing.T) {
	for _, tt := range []struct {
		rate, limit, def, want float64
	}{
		{0, 0, 100, 0},       // no cap: the scanner's default, unnamed
		{5000, 0, 100, 5000}, // no cap
		{5000, 300, 100, 300},
		{200, 300, 100, 200},
		{0, 50, 100, 50}, // the default, lowered
		{0, 500, 100, 100},
	} {
		if got := LimitRate(tt.rate, tt.limit, tt.def); got != tt.want {
			t.Errorf("LimitRate(%v, %v, %v) = %v, want %v", tt.rate, tt.limit, tt.def, got, tt.want)
		}
	}
}
