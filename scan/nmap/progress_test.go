package nmap

import (
	"testing"
	"time"
)

func TestProgressParser(t *testing.T) {
	now := time.Date(2026, 11, 24, 21, 6, 0, 500, time.UTC)
	tests := []struct {
		name  string
		lines []string
		want  []Progress
	}{
		{"timing with ETC", []string{"SYN Stealth Scan Timing: About 12.34% done; ETC: 21:07 (0:00:12 remaining)"},
			[]Progress{{Task: "SYN Stealth Scan", Percent: 12.34, ETC: now.Add(12 * time.Second).Truncate(time.Second)}}},
		{"timing without ETC", []string{"SYN Stealth Scan Timing: About 0.00% done"},
			[]Progress{{Task: "SYN Stealth Scan", Percent: 0}}},
		{"stats then timing", []string{
			"Stats: 0:01:05 elapsed; 12 hosts completed (3 up), 4 undergoing Service Scan",
			"Service scan Timing: About 50.00% done; ETC: 21:07 (1:02:03 remaining)",
		}, []Progress{{Task: "Service scan", Percent: 50, ETC: now.Add(time.Hour + 2*time.Minute + 3*time.Second).Truncate(time.Second),
			Elapsed: 65 * time.Second, HostsCompleted: 12, HostsUp: 3}}},
		{"one host completed", []string{
			"Stats: 0:00:01 elapsed; 1 host completed (1 up), 0 undergoing Script Scan",
			"NSE Timing: About 94.12% done; ETC: 21:06 (0:00:01 remaining)",
		}, []Progress{{Task: "NSE", Percent: 94.12, ETC: now.Add(time.Second).Truncate(time.Second), Elapsed: time.Second, HostsCompleted: 1, HostsUp: 1}}},
		{"stats apply to the next timing line only", []string{
			"Stats: 0:00:02 elapsed; 0 hosts completed (1 up), 1 undergoing Ping Scan",
			"Ping Scan Timing: About 10.00% done",
			"Ping Scan Timing: About 20.00% done",
		}, []Progress{
			{Task: "Ping Scan", Percent: 10, Elapsed: 2 * time.Second, HostsUp: 1},
			{Task: "Ping Scan", Percent: 20},
		}},
		{"percent is clamped", []string{"Connect Scan Timing: About 250.00% done"}, []Progress{{Task: "Connect Scan", Percent: 100}}},
		{"other lines", []string{
			"Starting Nmap 7.93 ( https://nmap.org ) at 2026-11-24 21:06 UTC",
			"Nmap scan report for 198.18.0.1",
			"Timing: About 5% done",
			"Discovered open port 22/tcp on 198.18.0.1",
			"",
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := progressParser{now: func() time.Time { return now }}
			var got []Progress
			for _, l := range tt.lines {
				if pr, ok := p.line(l); ok {
					got = append(got, pr)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("%d: got %+v\nwant %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}
