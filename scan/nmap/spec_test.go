package nmap

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
)

func TestSpecArgs(t *testing.T) {
	spec := func(options, targets, excludes []string) scan.Spec {
		return scan.Spec{RunID: 1, ShardID: 2, Scanner: scan.Nmap, Options: options, Targets: targets, Excludes: excludes}
	}
	tests := []struct {
		name     string
		spec     scan.Spec
		xml      string
		stats    time.Duration
		want     []string
		wantErr  error
		anyError bool
	}{
		{
			name: "typical",
			spec: spec([]string{"-sV", "-T4", "--top-ports", "1000"}, []string{"198.18.0.0/24", "scanme.example"}, []string{"198.18.1.1"}),
			xml:  "shard-2.xml", stats: 5 * time.Second,
			want: []string{"-oX", "shard-2.xml", "--stats-every", "5s", "--exclude", "198.18.1.1",
				"-sV", "-T4", "--top-ports", "1000", "--", "198.18.0.0/24", "scanme.example"},
		},
		{
			name: "no stats, no excludes",
			spec: spec([]string{"-sn"}, []string{"198.18.0.9"}, nil), xml: "out.xml",
			want: []string{"-oX", "out.xml", "-sn", "--", "198.18.0.9"},
		},
		{
			name: "ranges become CIDR blocks",
			spec: spec(nil, []string{"198.18.0.1-198.18.0.3", "198.18.0.8-198.18.0.9", "198.18.1.0-198.18.1.255"}, []string{"198.18.0.4-7"}), xml: "out.xml",
			want: []string{"-oX", "out.xml", "--exclude", "198.18.0.4/30", "--",
				"198.18.0.1", "198.18.0.2/31", "198.18.0.8/31", "198.18.1.0/24"},
		},
		{
			name: "targets are normalised",
			spec: spec(nil, []string{" 198.18.0.5/24 ", "ScanMe.Example."}, nil), xml: "out.xml",
			want: []string{"-oX", "out.xml", "--", "198.18.0.0/24", "scanme.example"},
		},
		{
			name: "IPv6 targets add -6",
			spec: spec([]string{"-sV"}, []string{"2001:db8::/120", "2001:db8:1::1-2001:db8:1::2"}, []string{"198.18.0.1"}), xml: "out.xml",
			want: []string{"-6", "-oX", "out.xml", "--exclude", "198.18.0.1", "-sV", "--", "2001:db8::/120", "2001:db8:1::1", "2001:db8:1::2"},
		},
		{
			name: "IPv6 targets with -6 in the profile",
			spec: spec([]string{"-6", "-sV"}, []string{"::1", "v6.example"}, nil), xml: "out.xml",
			want: []string{"-oX", "out.xml", "-6", "-sV", "--", "::1", "v6.example"},
		},
		{
			name: "host names only, no -6",
			spec: spec(nil, []string{"scanme.example"}, nil), xml: "out.xml",
			want: []string{"-oX", "out.xml", "--", "scanme.example"},
		},
		{name: "mixed families", spec: spec(nil, []string{"198.18.0.1", "2001:db8::1"}, nil), xml: "out.xml", wantErr: scan.ErrInvalidSpec},
		{name: "IPv4 with -6", spec: spec([]string{"-6"}, []string{"198.18.0.1"}, nil), xml: "out.xml", wantErr: scan.ErrInvalidSpec},
		{name: "IPv6 with -4", spec: spec([]string{"-4"}, []string{"2001:db8::1"}, nil), xml: "out.xml", wantErr: scan.ErrInvalidSpec},
		{name: "IPv4 with -4", spec: spec([]string{"-4"}, []string{"198.18.0.1"}, nil), xml: "out.xml", want: []string{"-oX", "out.xml", "-4", "--", "198.18.0.1"}},
		{name: "refused option", spec: spec([]string{"-oN", "x"}, []string{"198.18.0.1"}, nil), xml: "out.xml", wantErr: scan.ErrInvalidSpec},
		{name: "glued refused option", spec: spec([]string{"-iLlist"}, []string{"198.18.0.1"}, nil), xml: "out.xml", wantErr: scan.ErrInvalidSpec},
		{name: "no targets", spec: spec(nil, nil, nil), xml: "out.xml", wantErr: scan.ErrInvalidSpec},
		{name: "bad target", spec: spec(nil, []string{"-oX/tmp/x"}, nil), xml: "out.xml", wantErr: scan.ErrInvalidSpec},
		{name: "bad exclude", spec: spec(nil, []string{"198.18.0.1"}, []string{"300.1.1.1"}), xml: "out.xml", wantErr: scan.ErrInvalidSpec},
		{name: "masscan spec", spec: scan.Spec{RunID: 1, ShardID: 2, Scanner: scan.Masscan, Targets: []string{"198.18.0.1"}}, xml: "out.xml", wantErr: scan.ErrInvalidSpec},
		{name: "no ids", spec: scan.Spec{Scanner: scan.Nmap, Targets: []string{"198.18.0.1"}}, xml: "out.xml", wantErr: scan.ErrInvalidSpec},
		{name: "empty xml path", spec: spec(nil, []string{"198.18.0.1"}, nil), xml: "", anyError: true},
		{name: "xml to stdout", spec: spec(nil, []string{"198.18.0.1"}, nil), xml: "-", anyError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SpecArgs(tt.spec, tt.xml, tt.stats)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			case tt.anyError:
				if err == nil || errors.Is(err, scan.ErrInvalidSpec) {
					t.Fatalf("err = %v, want an error that is not the spec's fault", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("SpecArgs = %q\nwant       %q", got, tt.want)
				}
			}
		})
	}
}
