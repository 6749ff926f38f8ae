package scan

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// The generated table must be the installed nmap's script.db: a newer nmap
// with new scripts or new categories needs go generate.
func TestNmapScriptsMatchInstalled(t *testing.T) {
	f, err := os.Open("/usr/share/nmap/scripts/script.db")
	if err != nil {
		t.Skipf("nmap's script.db is not installed: %v", err)
	}
	defer f.Close()
	installed, err := ParseScriptDB(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(installed) != len(nmapScripts) {
		t.Errorf("installed script.db has %d scripts, the table %d; run go generate ./scan", len(installed), len(nmapScripts))
	}
	for i := range min(len(installed), len(nmapScripts)) {
		if a, b := installed[i], nmapScripts[i]; a.Name != b.Name || !slices.Equal(a.Categories, b.Categories) {
			t.Fatalf("entry %d: installed %v, table %v; run go generate ./scan", i, a, b)
		}
	}
}

func TestParseScriptDBRefusesOtherLines(t *testing.T) {
	for _, bad := range []string{`Entry { filename = "x.nse", categories = { "a" } }`, `os.execute("id")`, `Entry { filename = "../x.nse", categories = { "safe", } } x`} {
		if _, err := ParseScriptDB(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseScriptDB(%q) accepted it", bad)
		}
	}
}

func TestScriptSelection(t *testing.T) {
	tests := []struct {
		in        string
		has       []string // scripts that must be selected
		hasnt     []string // scripts that must not be
		intrusive []string // a subset of what is intrusive; nil = none
	}{
		{"--script banner", []string{"banner"}, []string{"http-title"}, nil},
		{"--script http-title,ssh-hostkey", []string{"http-title", "ssh-hostkey"}, nil, nil},
		{"--script 'safe and not intrusive'", []string{"banner"}, []string{"ssh-brute", "broadcast-ping", "asn-query"}, []string{"ssl-heartbleed"}},
		{"--script 'safe and not intrusive and not vuln and not malware'", []string{"banner"}, []string{"ssl-heartbleed"}, nil},
		{"--script SAFE", []string{"banner"}, nil, []string{"http-git"}},
		{"--script 'http-* and safe'", []string{"http-title"}, []string{"http-brute", "ssh-hostkey"}, []string{"http-git"}},
		// nmap's and/or are right-associative: banner and (ssh-brute or http-title).
		{"--script 'banner and ssh-brute or http-title'", nil, []string{"ssh-brute", "http-title", "banner"}, nil},
		{"--script 'ssh-brute or banner and http-title'", []string{"ssh-brute"}, []string{"banner"}, []string{"ssh-brute"}},
		{"--script vuln", []string{"http-shellshock"}, nil, []string{"http-shellshock"}},
		{"--script 'not(safe)and(discovery)'", []string{"dns-brute"}, []string{"banner"}, []string{"dns-brute"}},
		{"--script brute", []string{"ssh-brute"}, nil, []string{"ssh-brute"}},
		{"--script exploit", nil, nil, []string{"http-shellshock"}},
		{"-sC", []string{"http-title", "http-git"}, nil, []string{"http-git", "http-open-proxy"}},
		{"-A", []string{"http-title"}, nil, []string{"http-open-proxy"}},
		{"-sV", nil, []string{"wdb-version"}, nil},
		{"-sT -p 80", nil, []string{"banner"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			set, err := ParseOptionSet(Nmap, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			sel := set.Scripts()
			for _, s := range tt.has {
				if !slices.Contains(sel.Scripts, s) {
					t.Errorf("%s is not selected", s)
				}
			}
			for _, s := range tt.hasnt {
				if slices.Contains(sel.Scripts, s) {
					t.Errorf("%s is selected", s)
				}
			}
			for _, s := range tt.intrusive {
				if !slices.Contains(sel.Intrusive, s) {
					t.Errorf("%s is not counted intrusive (%v)", s, sel.Intrusive)
				}
			}
			if tt.intrusive == nil && len(sel.Intrusive) > 0 {
				t.Errorf("intrusive: %v", sel.Intrusive)
			}
			for _, s := range sel.Scripts {
				if strings.HasPrefix(s, "broadcast-") && !strings.HasPrefix(tt.in, "-") {
					t.Errorf("%s runs despite the guard", s)
				}
			}
		})
	}
}
