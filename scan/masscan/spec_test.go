package masscan

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
)

func TestSpecArgs(t *testing.T) {
	spec := func(options, targets, excludes []string) scan.Spec {
		return scan.Spec{RunID: 1, ShardID: 2, Scanner: scan.Masscan, Options: options, Targets: targets, Excludes: excludes}
	}
	tests := []struct {
		name     string
		spec     scan.Spec
		xml      string
		extra    []Option
		want     []string
		wantErr  error
		anyError bool
	}{
		{
			name: "typical",
			spec: spec([]string{"-p", "1-65535", "--rate", "10000"}, []string{"198.18.0.0/24", "198.18.1.1-198.18.1.9", "2001:db8::/120"}, []string{"198.18.2.1"}),
			xml:  "shard-2.xml", extra: []Option{WithWait(5 * time.Second)},
			want: []string{"-oX", "shard-2.xml", "--exclude", "198.18.2.1", "--wait", "5",
				"--range=198.18.0.0/24", "--range=198.18.1.1-198.18.1.9", "--range=2001:db8::/120", "-p1-65535", "--rate=10000"},
		},
		{
			name: "targets are normalised",
			spec: spec([]string{"-p", "80"}, []string{" 198.18.0.5/24 ", "198.18.1.1-9"}, nil), xml: "out.xml",
			want: []string{"-oX", "out.xml", "--range=198.18.0.0/24", "--range=198.18.1.1-198.18.1.9", "-p80"},
		},
		{name: "host name target", spec: spec([]string{"-p", "80"}, []string{"scanme.example"}, nil), xml: "out.xml", wantErr: scan.ErrInvalidSpec},
		{name: "host name exclusion", spec: spec([]string{"-p", "80"}, []string{"198.18.0.1"}, []string{"gw.example"}), xml: "out.xml", wantErr: scan.ErrInvalidSpec},
		{name: "target overlaps an exclusion", spec: spec([]string{"-p", "80"}, []string{"198.18.0.0/24"}, []string{"198.18.0.9"}), xml: "out.xml", wantErr: scan.ErrInvalidSpec},
		{name: "refused option", spec: spec([]string{"--includefile", "x"}, []string{"198.18.0.1"}, nil), xml: "out.xml", wantErr: scan.ErrInvalidSpec},
		{name: "nmap spec", spec: scan.Spec{RunID: 1, ShardID: 2, Scanner: scan.Nmap, Targets: []string{"198.18.0.1"}}, xml: "out.xml", wantErr: scan.ErrInvalidSpec},
		{name: "no targets", spec: spec(nil, nil, nil), xml: "out.xml", wantErr: scan.ErrInvalidSpec},
		{name: "empty xml path", spec: spec(nil, []string{"198.18.0.1"}, nil), xml: "", anyError: true},
		{name: "xml path like an option", spec: spec(nil, []string{"198.18.0.1"}, nil), xml: "-x", anyError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SpecArgs(tt.spec, tt.xml, tt.extra...)
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
