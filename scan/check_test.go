package scan

import (
	"strings"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	nmapSite := Site{Name: "lab", Targets: []string{"198.18.0.0/30"}}
	raw := AgentCaps{Name: "root-1", Capacity: 2, RawKnown: true, RawSockets: []Scanner{Nmap, Masscan}}
	noRaw := AgentCaps{Name: "plain-1", Capacity: 1, RawKnown: true}
	silent := AgentCaps{Name: "old-1", Capacity: 1} // announced nothing about raw sockets
	slow := AgentCaps{Name: "slow-1", Capacity: 1, MaxRate: 100, RawKnown: true, RawSockets: []Scanner{Nmap}}
	tests := []struct {
		name string
		in   CheckInput
		// want lists rule/subject/warning of each finding, in order;
		// wantText is part of the first finding's message.
		want     []string
		wantText string
	}{
		{name: "clean nmap", in: CheckInput{Profile: Profile{Scanner: Nmap, Options: "-sT -p 80"}, Site: nmapSite, Agent: "a"}},
		{name: "masscan host-name target", in: CheckInput{Profile: Profile{Scanner: Masscan, Options: "-p80"}, Site: Site{Name: "s", Targets: []string{"198.18.0.1", "db.example"}}, Agent: "a"},
			want: []string{"host_names/targets/error"}, wantText: "db.example"},
		{name: "masscan host-name site exclusion", in: CheckInput{Profile: Profile{Scanner: Masscan, Options: "-p80"}, Site: Site{Name: "s", Targets: []string{"198.18.0.0/24"}, Exclusions: []string{"printer.lan"}}, Agent: "a"},
			want: []string{"host_names/exclusions/error"}, wantText: "printer.lan"},
		{name: "masscan host-name global exclusion", in: CheckInput{Profile: Profile{Scanner: Masscan, Options: "-p80"}, Site: nmapSite, GlobalExclusions: []string{"198.19.0.1", "ceo.example"}, Agent: "a"},
			want: []string{"host_names/global_exclusions/error"}, wantText: "ceo.example"},
		{name: "zmap host-name target", in: CheckInput{Profile: Profile{Scanner: Zmap, Options: "-p80"}, Site: Site{Name: "s", Targets: []string{"198.18.0.1", "db.example"}}, Agent: "a"},
			want: []string{"host_names/targets/error"}, wantText: "zmap cannot resolve host names"},
		{name: "zmap host-name global exclusion", in: CheckInput{Profile: Profile{Scanner: Zmap, Options: "-p80"}, Site: nmapSite, GlobalExclusions: []string{"ceo.example"}, Agent: "a"},
			want: []string{"host_names/global_exclusions/error"}, wantText: "ceo.example"},
		{name: "zmap rate above the server's ceiling", in: CheckInput{Profile: Profile{Scanner: Zmap, Options: "-p80 --rate 5000"}, Site: nmapSite, ServerMaxRate: 1000, Agent: "a"},
			want: []string{"rate/options/error"}, wantText: "5000"},
		{name: "masscan discovery before nmap, host-name target", in: CheckInput{Profile: Profile{Scanner: Nmap, Options: "-sT", DiscoveryScanner: Masscan, DiscoveryOptions: "-p80"}, Site: Site{Name: "s", Targets: []string{"db.example"}}, Agent: "a"},
			want: []string{"host_names/targets/error"}, wantText: "masscan cannot resolve host names"},
		{name: "nmap takes host names", in: CheckInput{Profile: Profile{Scanner: Nmap, Options: "-sT"}, Site: Site{Name: "s", Targets: []string{"db.example"}, Exclusions: []string{"x.example"}}, GlobalExclusions: []string{"y.example"}, Agent: "a"}},
		{name: "-6 with IPv4", in: CheckInput{Profile: Profile{Scanner: Nmap, Options: "-6 -sT"}, Site: nmapSite, Agent: "a"},
			want: []string{"address_family/options/error"}, wantText: "-6"},
		{name: "-4 with IPv6", in: CheckInput{Profile: Profile{Scanner: Nmap, Options: "-4 -sT"}, Site: Site{Name: "s", Targets: []string{"2001:db8::/126"}}, Agent: "a"},
			want: []string{"address_family/options/error"}, wantText: "-4"},
		{name: "-6 with IPv4 all excluded", in: CheckInput{Profile: Profile{Scanner: Nmap, Options: "-6 -sT"}, Site: Site{Name: "s", Targets: []string{"198.18.0.1", "2001:db8::1"}}, GlobalExclusions: []string{"198.18.0.1"}, Agent: "a"}},
		{name: "over the address cap", in: CheckInput{Profile: Profile{Scanner: Nmap, Options: "-sT"}, Site: Site{Name: "big", Targets: []string{"198.18.0.0/15"}}, Agent: "a"},
			want: []string{"targets/targets/error"}, wantText: "too many addresses"},
		{name: "raw sockets, pinned agent without", in: CheckInput{Profile: Profile{Scanner: Nmap, Options: "-sS"}, Site: nmapSite, Agent: "plain-1", Online: []AgentCaps{noRaw}},
			want: []string{"raw_sockets/agent/error"}, wantText: `"plain-1"`},
		{name: "raw sockets, pinned agent with", in: CheckInput{Profile: Profile{Scanner: Nmap, Options: "-sS"}, Site: nmapSite, Agent: "root-1", Online: []AgentCaps{raw}}},
		{name: "raw sockets, agent that did not say", in: CheckInput{Profile: Profile{Scanner: Masscan, Options: "-p80"}, Site: nmapSite, Agent: "old-1", Online: []AgentCaps{silent}}},
		{name: "raw sockets, offline agent", in: CheckInput{Profile: Profile{Scanner: Nmap, Options: "-O"}, Site: nmapSite, Agent: "plain-1"}},
		{name: "raw sockets, pool with a member without", in: CheckInput{Profile: Profile{Scanner: Masscan, Options: "-p80"}, Site: nmapSite, Pool: "edge", Online: []AgentCaps{raw, noRaw, slow}, PoolSeen: true},
			want: []string{"raw_sockets/pool/warning"}, wantText: "plain-1, slow-1"},
		{name: "raw sockets, zmap always", in: CheckInput{Profile: Profile{Scanner: Zmap, Options: "-p80"}, Site: nmapSite, Agent: "plain-1", Online: []AgentCaps{noRaw}},
			want: []string{"raw_sockets/agent/error"}, wantText: "zmap"},
		{name: "connect scan needs none", in: CheckInput{Profile: Profile{Scanner: Nmap, Options: "-sT"}, Site: nmapSite, Agent: "plain-1", Online: []AgentCaps{noRaw}}},
		{name: "rate above the server's ceiling", in: CheckInput{Profile: Profile{Scanner: Masscan, Options: "-p80 --rate 5000"}, Site: nmapSite, ServerMaxRate: 1000, Agent: "a"},
			want: []string{"rate/options/error"}, wantText: "ceiling of 1000"},
		{name: "rate above the server's ceiling, stored", in: CheckInput{Profile: Profile{Scanner: Masscan, Options: "-p80 --rate 5000"}, Site: nmapSite, ServerMaxRate: 1000, Agent: "a", Stored: true},
			want: []string{"rate/options/warning"}, wantText: "cap"},
		{name: "rate above the pinned agent's ceiling", in: CheckInput{Profile: Profile{Scanner: Nmap, Options: "-sT --max-rate 500"}, Site: nmapSite, Agent: "slow-1", Online: []AgentCaps{slow}},
			want: []string{"rate/agent/error"}, wantText: "slow-1 (100)"},
		{name: "rate above a pool member's ceiling", in: CheckInput{Profile: Profile{Scanner: Nmap, Options: "-sT --min-rate 500"}, Site: nmapSite, Pool: "edge", Online: []AgentCaps{raw, slow}},
			want: []string{"rate/pool/warning"}, wantText: "slow-1"},
		{name: "pool never seen", in: CheckInput{Profile: Profile{Scanner: Nmap, Options: "-sT"}, Site: nmapSite, Pool: "empty"},
			want: []string{"pool_seen/pool/warning"}, wantText: `"empty"`},
		{name: "pool seen before, offline now", in: CheckInput{Profile: Profile{Scanner: Nmap, Options: "-sT"}, Site: nmapSite, Pool: "edge", PoolSeen: true}},
		{name: "several at once", in: CheckInput{Profile: Profile{Scanner: Masscan, Options: "-p80 --rate 9000"}, Site: Site{Name: "s", Targets: []string{"a.example", "198.18.0.1"}}, ServerMaxRate: 10, Agent: "plain-1", Online: []AgentCaps{noRaw}},
			want: []string{"host_names/targets/error", "raw_sockets/agent/error", "rate/options/error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, fs := Check(tt.in)
			var got []string
			for _, f := range fs {
				kind := "error"
				if f.Warning {
					kind = "warning"
				}
				got = append(got, f.Rule+"/"+string(f.Subject)+"/"+kind)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("findings %q, want %q (%+v)", got, tt.want, fs)
			}
			if tt.wantText != "" && !strings.Contains(fs[0].Message, tt.wantText) {
				t.Errorf("message %q does not mention %q", fs[0].Message, tt.wantText)
			}
			hasErr := false
			for _, w := range tt.want {
				hasErr = hasErr || strings.HasSuffix(w, "/error")
			}
			if (FirstError(fs) != nil) != hasErr {
				t.Errorf("FirstError = %v", FirstError(fs))
			}
		})
	}
}

func TestPortCount(t *testing.T) {
	for _, tt := range []struct {
		scanner Scanner
		options string
		want    int
	}{
		{Nmap, "-sT", 1000},
		{Nmap, "-sT -F", 100},
		{Nmap, "-p 22,80,8000-8009", 12},
		{Nmap, "-p T:22,U:53", 2},
		{Nmap, "--top-ports 20", 20},
		{Masscan, "-p0-1023", 1024},
		{Zmap, "-p443", 1},
		{Masscan, "--ports 80,443", 2},
	} {
		set, err := ParseOptionSet(tt.scanner, tt.options)
		if err != nil {
			t.Fatal(err)
		}
		if got := PortCount(set); got != tt.want {
			t.Errorf("%s %q: %d ports, want %d", tt.scanner, tt.options, got, tt.want)
		}
	}
}

func TestEstimates(t *testing.T) {
	at := func(s int) *time.Time { v := time.Date(2030, 1, 1, 0, 0, s, 0, time.UTC); return &v }
	runs := []Run{
		{Status: RunRunning, StartedAt: at(0), Addresses: 10},
		{Status: RunCompleted, StartedAt: at(0), FinishedAt: at(20), Addresses: 10}, // 2 s per address
		{Status: RunFailed, StartedAt: at(0), FinishedAt: at(50), Addresses: 10},
		{Status: RunCompleted, StartedAt: at(0), FinishedAt: at(40), Addresses: 10}, // 4 s per address
	}
	e, ok := EstimateFromRuns(runs, 100)
	if !ok || e.Seconds != 300 || e.Basis != "earlier_runs" || !strings.Contains(e.Detail, "2 latest completed runs") {
		t.Errorf("from runs: %+v, %v", e, ok)
	}
	if _, ok := EstimateFromRuns(runs[:1], 100); ok {
		t.Error("an estimate from no completed run")
	}
	e = EstimateFromCount(1000, 2, 500, 2)
	if e.Seconds != 2 || e.Basis != "address_count" || strings.Contains(e.Detail, "assumed") {
		t.Errorf("from count: %+v", e)
	}
	if e := EstimateFromCount(300, 1000, 0, 1); e.Seconds != 1000 || !strings.Contains(e.Detail, "assumed") {
		t.Errorf("nmap without a rate: %+v", e)
	}
}
