package nmap

import (
	"errors"
	"slices"
	"testing"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
)

// PortOptions gives nmap exactly the found ports, once each, in order, as
// TCP; options that choose ports themselves are refused.
func TestPortOptions(t *testing.T) {
	tests := []struct {
		options []string
		ports   []uint16
		want    []string
		err     error
	}{
		{[]string{"-sV"}, []uint16{8080, 22, 22, 443}, []string{"-sV", "-p", "T:22,443,8080"}, nil},
		{nil, []uint16{1}, []string{"-p", "T:1"}, nil},
		{[]string{"-sV"}, nil, nil, scan.ErrInvalidSpec},
		{[]string{"-p", "22"}, []uint16{22}, nil, driver.ErrStagePorts},
		{[]string{"--top-ports", "10"}, []uint16{22}, nil, driver.ErrStagePorts},
		{[]string{"--exclude-ports", "9"}, []uint16{22}, nil, driver.ErrStagePorts},
		{[]string{"-F"}, []uint16{22}, nil, driver.ErrStagePorts},
		{[]string{"-oX", "/tmp/x"}, []uint16{22}, nil, scan.ErrInvalidOptions},
	}
	for _, tt := range tests {
		got, err := Driver{}.PortOptions(tt.options, tt.ports)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("PortOptions(%q, %v) = %v, want %v", tt.options, tt.ports, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("PortOptions(%q, %v) = %q, %v; want %q", tt.options, tt.ports, got, err, tt.want)
		}
	}
}
