package masscan

import (
	"slices"
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
)

// profile parses a profile's options for the builders, failing the test on
// a refused one.
func profile(t *testing.T, options string) scan.OptionSet {
	t.Helper()
	set, err := scan.ParseOptionSet(scan.Masscan, options)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// check runs a table of option lists against the exact arguments expected.
func check(t *testing.T, tests []argsCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Args(tt.opts...); !slices.Equal(got, tt.want) {
				t.Errorf("Args = %q\nwant   %q", got, tt.want)
			}
		})
	}
}

type argsCase struct {
	name string
	opts []Option
	want []string
}

func TestArgsOrder(t *testing.T) {
	check(t, []argsCase{
		{"nothing", nil, nil},
		{"all, given in reverse", []Option{
			WithProfile(profile(t, "-p 80,443")),
			WithTargets([]string{"198.18.0.0/24", "2001:db8::/120"}),
			WithBanners(),
			WithWait(3 * time.Second),
			WithRate(1000),
			WithExcludes([]string{"198.18.0.7"}),
			WithXMLOutput("out.xml"),
		}, []string{
			"-oX", "out.xml", "--exclude", "198.18.0.7", "--rate", "1000", "--wait", "3", "--banners",
			"--range=198.18.0.0/24", "--range=2001:db8::/120", "-p80,443",
		}},
	})
}
