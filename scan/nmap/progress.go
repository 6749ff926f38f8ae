package nmap

import (
	"regexp"
	"strconv"
	"time"
)

// Progress is what nmap last said about how far it is, from the lines
// --stats-every prints:
//
//	Stats: 0:00:05 elapsed; 0 hosts completed (1 up), 1 undergoing SYN Stealth Scan
//	SYN Stealth Scan Timing: About 12.34% done; ETC: 13:37 (0:00:12 remaining)
//
// Percent is of the current phase (Task), not of the whole scan: nmap starts
// again from 0 for each phase (host discovery, port scan, service scan, NSE).
type Progress struct {
	Task    string    // "SYN Stealth Scan", "Service scan", "NSE", ...
	Percent float64   // 0 to 100, of Task
	ETC     time.Time // when nmap expects Task to end; zero if unknown
	// From the "Stats:" line before, when there is one.
	Elapsed        time.Duration
	HostsCompleted int
	HostsUp        int
}

var (
	timingLine = regexp.MustCompile(`^(.+?) Timing: About (\d+(?:\.\d+)?)% done(?:; ETC: \d{1,2}:\d{2} \((\d+):(\d{2}):(\d{2}) remaining\))?`)
	statsLine  = regexp.MustCompile(`^Stats: (\d+):(\d{2}):(\d{2}) elapsed; (\d+) hosts? completed \((\d+) up\)`)
)

// progressParser turns nmap's standard output, line by line, into Progress.
type progressParser struct {
	now   func() time.Time
	stats Progress // from the last Stats line
}

// line reads one line (without its end) and returns the progress it reports,
// if it is a Timing line.
func (p *progressParser) line(s string) (Progress, bool) {
	if m := statsLine.FindStringSubmatch(s); m != nil {
		p.stats = Progress{
			Elapsed:        hms(m[1], m[2], m[3]),
			HostsCompleted: atoi(m[4]),
			HostsUp:        atoi(m[5]),
		}
		return Progress{}, false
	}
	m := timingLine.FindStringSubmatch(s)
	if m == nil {
		return Progress{}, false
	}
	pr := p.stats
	pr.Task = m[1]
	pr.Percent, _ = strconv.ParseFloat(m[2], 64)
	pr.Percent = min(max(pr.Percent, 0), 100)
	if m[3] != "" {
		pr.ETC = p.now().Add(hms(m[3], m[4], m[5])).Truncate(time.Second)
	}
	p.stats = Progress{}
	return pr, true
}

func hms(h, m, s string) time.Duration {
	return time.Duration(atoi(h))*time.Hour + time.Duration(atoi(m))*time.Minute + time.Duration(atoi(s))*time.Second
}

// atoi reads digits the regexps matched; overflow saturates.
func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 1<<31 - 1
	}
	return n
}
