package scan

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestSplitOptions(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"-n -Pn -sV", []string{"-n", "-Pn", "-sV"}},
		{"  -p  22,80 \t -T4\n", []string{"-p", "22,80", "-T4"}},
		{`--script-args 'http.useragent=Mozilla 5'`, []string{"--script-args", "http.useragent=Mozilla 5"}},
		{`--script-args "a=\"b c\""`, []string{"--script-args", `a="b c"`}},
		{`-p 1-1024\ 2`, []string{"-p", "1-1024 2"}},
		{`''`, []string{""}},
		{`$HOME $(id) *`, []string{"$HOME", "$(id)", "*"}}, // nothing is expanded
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := SplitOptions(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Errorf("SplitOptions(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	for _, bad := range []string{`-p '22`, `"abc`, `abc\`} {
		if _, err := SplitOptions(bad); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("SplitOptions(%q) error = %v, want ErrInvalidOptions", bad, err)
		}
	}
}

// Ordinary profiles operators write: the allow-list must take them all,
// and their canonical form must parse back to the same arguments.
var safeProfiles = []struct {
	scanner Scanner
	in      string
	want    string // canonical arguments joined by "|"; "" = not checked
}{
	{Nmap, "-n -Pn -sS -sV --version-light -p 1-65535 -T4", "-n|-Pn|-sS|-sV|--version-light|-p|1-65535|-T4"},
	{Nmap, "-sT -sV -sC -O -A", ""},
	{Nmap, "-T0", ""}, {Nmap, "-T1", ""}, {Nmap, "-T2", ""}, {Nmap, "-T3", ""}, {Nmap, "-T5", ""},
	{Nmap, "-T aggressive", "-Taggressive"},
	{Nmap, "-T 4 -F -r", "-T4|-F|-r"},
	{Nmap, "--top-ports 1000", ""},
	{Nmap, "--top-ports=100 -p-", "--top-ports|100|-p|-"},
	{Nmap, "-p U:53,T:22,80-90,443", ""},
	{Nmap, "-p22,80", "-p|22,80"},
	{Nmap, "-p http,https,ssh*", ""},
	{Nmap, "-p-1024", "-p|-1024"},
	{Nmap, "-sU -sS -p U:53,161,T:21-25 --max-retries 1", ""},
	{Nmap, "--min-rate 100 --max-rate=500.5 --max-retries 2 --host-timeout 30m", ""},
	{Nmap, "--initial-rtt-timeout 100ms --max-rtt-timeout 1.5s --scan-delay 10ms --max-scan-delay 1s", ""},
	{Nmap, `--script "default and safe"`, "--script|(default and safe) and not (broadcast or external)"},
	{Nmap, "--script default,vuln --script-args http.useragent=x",
		"--script|(default) and not (broadcast or external),(vuln) and not (broadcast or external)|--script-args|http.useragent=x"},
	{Nmap, "--script=banner -O --top-ports 100", "--script|(banner) and not (broadcast or external)|-O|--top-ports|100"},
	{Nmap, "--script '(banner) and not (broadcast or external)'", "--script|(banner) and not (broadcast or external)"},
	{Nmap, `--script "(default or discovery) and not intrusive" --script-timeout 2m`, ""},
	{Nmap, "--script http-* --script-args 'http.useragent=Mozilla/5.0 (Scantron),http.max-cache-size=1000'", ""},
	{Nmap, "--script-args smb.domain=CORP,creds.smb=guest:", ""},
	{Nmap, "--version-intensity 9 --version-all", ""},
	{Nmap, "-6 -sV", ""},
	{Nmap, "-sn -PE -PP -PS22,443 -PA80 -PU53 -PO1,6 --traceroute", "-sn|-PE|-PP|-PS22,443|-PA80|-PU53|-PO1,6|--traceroute"},
	{Nmap, "-PS -PA", ""},
	{Nmap, "--open --reason -v -vv -d2", "--open|--reason|-v|-vv|-d2"},
	{Nmap, "--min-hostgroup 64 --max-hostgroup 256 --min-parallelism 10 --max-parallelism 100", ""},
	{Nmap, "--defeat-rst-ratelimit --exclude-ports 9100 --source-port 53 -g 53", ""},
	{Nmap, "--data-length 25 --ttl 64 -f --mtu 16 --randomize-hosts --badsum", ""},
	{Nmap, "--data 0xdeadbeef --data-string 'hello world'", ""},
	{Nmap, "--osscan-limit --osscan-guess --max-os-tries 2 --stats-every 10s", ""},
	{Nmap, "", ""},
	{Masscan, "-p 1-65535 --rate 1000 --banners", "-p1-65535|--rate=1000|--banners"},
	{Masscan, "-p80,443 --rate=100000", "-p80,443|--rate=100000"},
	{Masscan, "--ping --open-only -p 80 --wait 3", "--ping|--open-only|-p80|--wait=3"},
	{Masscan, "--ports U:53,T:80 --wait 5 --retries 2 --ttl 64 --source-port 40000-40015", ""},
	{Masscan, "--top-ports 100 --max-rate 500 --seed 42 --shard 1/2 --open-only", ""},
	{Masscan, "-p 0-65535 --ping --connection-timeout 10 --http-user-agent 'Scantron/1.0'", ""},
	{Masscan, "-sS -Pn -n -p 22 --capture cert", ""},
}

func TestParseOptionsAcceptsOrdinaryProfiles(t *testing.T) {
	for _, tt := range safeProfiles {
		t.Run(string(tt.scanner)+" "+tt.in, func(t *testing.T) {
			args, err := ParseOptions(tt.scanner, tt.in)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tt.want != "" && strings.Join(args, "|") != tt.want {
				t.Errorf("args = %q, want %q", strings.Join(args, "|"), tt.want)
			}
			// What the server stores in a spec, the agent checks again.
			set, err := ParseOptionArgs(tt.scanner, args)
			if err != nil {
				t.Fatalf("canonical form %q refused: %v", args, err)
			}
			if again := set.Args(); !slices.Equal(again, args) {
				t.Errorf("canonical form is not stable: %q then %q", args, again)
			}
		})
	}
}

// Hostile option strings: each must be refused, with an error that names
// the option (or word) at fault.
var hostileProfiles = []struct {
	scanner Scanner
	in      string
	names   string
}{
	// Files read or written on the agent.
	{Nmap, "-iL /etc/shadow", "-iL"},
	{Nmap, "-iL/etc/shadow", "-iL"},
	{Nmap, "-sV -iL /etc/shadow", "-iL"},
	{Nmap, "-iR 1000", "-iR"},
	{Nmap, "-oN /tmp/x", "-oN"},
	{Nmap, "-oX /tmp/x.xml", "-oX"},
	{Nmap, "-oX/tmp/x.xml", "-oX"},
	{Nmap, "-oX-", "-oX"},
	{Nmap, "-oA out", "-oA"},
	{Nmap, "-oG -", "-oG"},
	{Nmap, "-oS /tmp/s", "-oS"},
	{Nmap, "-oM /tmp/m", "-oM"},
	{Nmap, "--resume /tmp/x", "--resume"},
	{Nmap, "--datadir /tmp", "--datadir"},
	{Nmap, "--datadir=/tmp", "--datadir"},
	{Nmap, "-datadir /tmp", "-datadir"},
	{Nmap, "--servicedb=/tmp/s", "--servicedb"},
	{Nmap, "--versiondb /tmp/v", "--versiondb"},
	{Nmap, "--script /tmp/evil.nse", "--script"},
	{Nmap, "--script=/etc/x", "--script"},
	{Nmap, "--script ../x", "--script"},
	{Nmap, "--script=../../evil", "--script"},
	{Nmap, "--script evil.nse", "--script"},
	{Nmap, `--script C:\evil`, "--script"},
	{Nmap, "--script http://198.18.0.1/x.nse", "--script"},
	{Nmap, "--script default,/tmp/x", "--script"},
	{Nmap, "--script '~/x'", "--script"},
	{Nmap, "-script=/etc/x", "-script"},
	{Nmap, "--script-args-file /etc/passwd", "--script-args-file"},
	{Nmap, "--script-args userdb=/etc/shadow", "--script-args"},
	{Nmap, "--script-args passdb=/etc/passwd,unpwdb.timeout=1", "--script-args"},
	{Nmap, "--script-args brute.credfile=x", "--script-args"},
	{Nmap, "--script-args http.host=../../etc", "--script-args"},
	{Nmap, "--script-updatedb", "--script-updatedb"},
	// The differential test's own script is out of reach.
	{Nmap, "--script printargs", "printargs"},
	{Nmap, "--script testdata/printargs.nse", "--script"},
	{Nmap, "--script scan/testdata/printargs", "--script"},
	// Scripts that reach beyond the targets.
	{Nmap, "--script broadcast", "broadcast"},
	{Nmap, "--script '(default'", "unbalanced"},
	{Nmap, "--script '(default,safe) and not intrusive'", "comma inside parentheses"},
	{Nmap, "--script default,,safe", "empty entry"},
	{Nmap, "--script 'safe and not external'", "external"},
	{Nmap, "--script broadcast-dhcp-discover", "broadcast-dhcp-discover"},
	{Nmap, "--script targets-asn", "targets-asn"},
	{Nmap, "--script '(a) or (b) and not (broadcast or external)'", "broadcast"},
	{Nmap, "--script dns-brute --script-args newtargets", "newtargets"},
	{Nmap, "--script-args targets-xml.iX=scan", "targets-xml.iX"},
	{Nmap, "--excludefile /etc/hosts", "--excludefile"},
	{Nmap, "--stylesheet http://x/y.xsl", "--stylesheet"},
	{Nmap, "--webxml", "--webxml"},
	{Nmap, "--append-output", "--append-output"},
	{Nmap, "--log-errors", "--log-errors"},
	// Targets chosen by the profile.
	{Nmap, "--exclude 198.18.0.1", "--exclude"},
	{Nmap, "-sV 8.8.8.8", `"8.8.8.8"`},
	{Nmap, "-p 80 scanme.example", `"scanme.example"`},
	{Nmap, "-- 198.18.0.1", `"--"`},
	{Nmap, "-sV -", `"-"`},
	// Interfaces, source addresses, other hosts.
	{Nmap, "-e eth0", "-e"},
	{Nmap, "-eeth0", "-e"},
	{Nmap, "-S 198.18.0.9", "-S"},
	{Nmap, "-D RND:10", "-D"},
	{Nmap, "--spoof-mac 0", "--spoof-mac"},
	{Nmap, "--send-eth", "--send-eth"},
	{Nmap, "-sI 198.18.0.9", "-sI"},
	{Nmap, "-b ftp://198.18.0.9", "-b"},
	{Nmap, "--proxies http://198.18.0.9:8080", "--proxies"},
	{Nmap, "--dns-servers 198.18.0.53", "--dns-servers"},
	// The agent's environment and privileges.
	{Nmap, "--privileged", "--privileged"},
	{Nmap, "--unprivileged", "--unprivileged"},
	{Nmap, "--iflist", "--iflist"},
	{Nmap, "--noninteractive", "--noninteractive"},
	{Nmap, "--datad /tmp", "--datad"}, // nmap would take an abbreviation
	{Nmap, "--scr=/x", "--scr"},
	// Quoting, bytes and look-alikes.
	{Nmap, "'-iL' /etc/shadow", "-iL"},
	{Nmap, `"-o""X" /tmp/x`, "-oX"},
	{Nmap, `-i\L /etc/shadow`, "-iL"},
	{Nmap, `-sV\ -iL/etc/shadow`, "-sV -iL/etc/shadow"},
	{Nmap, "'-p 80' -sV", "-p"},
	{Nmap, "-sV\x00-iL", `\x00`},
	{Nmap, "--script-args 'a=1\nb'", "U+000A"},
	{Nmap, "'--script-args=x=\n-iL'", "U+000A"},
	{Nmap, "\u2013iL /etc/shadow", "U+2013"},
	{Nmap, "\u2014script /x", "U+2014"},
	{Nmap, "-sV \u2010oX /tmp/x", "U+2010"},
	{Nmap, "-s\u0455", "U+0455"},
	{Nmap, "--open=1", "--open"},
	{Nmap, "-p", "-p"},
	{Nmap, "-p /etc/passwd", "-p"},
	{Nmap, "-p -iL", "-p"},
	{Nmap, "-T 9", "-T"},
	{Nmap, "--top-ports -1", "--top-ports"},
	{Nmap, "--host-timeout 1y", "--host-timeout"},
	{Nmap, "--max-retries 1e9", "--max-retries"},
	{Nmap, "--min-rate -5", "--min-rate"},
	{Nmap, "--version-intensity 10", "--version-intensity"},
	{Nmap, "-PS/etc/x", "-PS"},
	{Nmap, "--no-such-option", "--no-such-option"},
	// masscan.
	{Masscan, "-c /etc/masscan.conf", "-c"},
	{Masscan, "--conf /etc/masscan.conf", "--conf"},
	{Masscan, "--includefile /etc/shadow", "--includefile"},
	{Masscan, "-iL /etc/shadow", "-iL"},
	{Masscan, "--excludefile /etc/x", "--excludefile"},
	{Masscan, "--exclude 198.18.0.1", "--exclude"},
	{Masscan, "--range 0.0.0.0/0", "--range"},
	{Masscan, "-p 80 0.0.0.0/0", `"0.0.0.0/0"`},
	{Masscan, "--adapter eth0", "--adapter"},
	{Masscan, "-e eth0", "-e"},
	{Masscan, "--adapter-ip 198.18.0.9", "--adapter-ip"},
	{Masscan, "--router-mac 00:11:22:33:44:55", "--router-mac"},
	{Masscan, "--source-ip 198.18.0.9", "--source-ip"},
	{Masscan, "-oJ out.json", "-oJ"},
	{Masscan, "-oX/tmp/x", "-oX"},
	{Masscan, "--output-filename /tmp/x", "--output-filename"},
	{Masscan, "--output-format binary", "--output-format"},
	{Masscan, "--readscan x.bin", "--readscan"},
	{Masscan, "--pcap /tmp/x.pcap", "--pcap"},
	{Masscan, "--pcap-payloads /tmp/p", "--pcap-payloads"},
	{Masscan, "--nmap-payloads /tmp/p", "--nmap-payloads"},
	{Masscan, "--hello-file[80] /etc/shadow", "--hello-file[80]"},
	{Masscan, "--resume paused.conf", "--resume"},
	{Masscan, "--echo", "--echo"},
	{Masscan, "--iflist", "--iflist"},
	{Masscan, "--rate 1000 --wait forever", "--wait"},
	{Masscan, "--capture /tmp", "--capture"},
	{Masscan, "--out_put-filename /tmp/x", "--out_put-filename"},
	{Masscan, "--script /tmp/x", "--script"},
	{Scanner("nessus"), "-p 80", "nessus"},
}

func TestParseOptionsRefusesHostileProfiles(t *testing.T) {
	if len(hostileProfiles) < 50 {
		t.Fatalf("only %d hostile profiles", len(hostileProfiles))
	}
	for _, tt := range hostileProfiles {
		t.Run(string(tt.scanner)+" "+tt.in, func(t *testing.T) {
			args, err := ParseOptions(tt.scanner, tt.in)
			if !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("accepted as %q (err %v)", args, err)
			}
			if !strings.Contains(err.Error(), tt.names) {
				t.Errorf("error %q does not name %q", err, tt.names)
			}
		})
	}
}

func TestRawSocketOptions(t *testing.T) {
	tests := []struct {
		scanner Scanner
		in      string
		want    []string
	}{
		{Nmap, "-sT -sV -n -Pn", nil},
		{Nmap, "-sS -sV -O", []string{"-sS", "-O"}},
		{Nmap, "-A", []string{"-A"}},
		{Nmap, "-sn -PS22", []string{"-PS"}},
		{Masscan, "-p 80", []string{"masscan"}},
	}
	for _, tt := range tests {
		set, err := ParseOptionSet(tt.scanner, tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := set.RawSocketOptions(); !slices.Equal(got, tt.want) {
			t.Errorf("%s %q: RawSocketOptions = %q, want %q", tt.scanner, tt.in, got, tt.want)
		}
	}
}

func TestSpecValidate(t *testing.T) {
	good := Spec{RunID: 1, ShardID: 1, Scanner: Nmap, Options: []string{"-n"}, Targets: []string{"198.18.0.2"}}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid spec refused: %v", err)
	}
	neighbours := good
	neighbours.Targets, neighbours.Excludes = []string{"198.18.0.0/31", "198.18.0.3", "db.example"}, []string{"198.18.0.2", "2001:db8::/64", "mail.example"}
	if err := neighbours.Validate(); err != nil {
		t.Fatalf("exclusions beside the targets refused: %v", err)
	}
	grouped := good
	grouped.Targets = []string{"198.18.0.2", "198.18.0.4-198.18.0.5"}
	grouped.Groups = []PortGroup{{Ports: []uint16{22, 80}, Targets: []string{"198.18.0.2"}}, {Ports: []uint16{443}, Targets: []string{"198.18.0.4-198.18.0.5"}}}
	if err := grouped.Validate(); err != nil {
		t.Fatalf("port groups refused: %v", err)
	}
	tests := []struct {
		name   string
		change func(*Spec)
	}{
		{"no run", func(s *Spec) { s.RunID = 0 }},
		{"unknown scanner", func(s *Spec) { s.Scanner = "nessus" }},
		{"refused option", func(s *Spec) { s.Options = []string{"-iL", "/etc/shadow"} }},
		{"no targets", func(s *Spec) { s.Targets = nil }},
		{"bad target", func(s *Spec) { s.Targets = []string{"198.18.0.2", "-iL"} }},
		{"bad exclude", func(s *Spec) { s.Excludes = []string{"a b"} }},
		{"target is excluded", func(s *Spec) { s.Excludes = []string{"198.18.0.0/30"} }},
		{"target range touches an exclusion", func(s *Spec) {
			s.Targets, s.Excludes = []string{"198.18.0.0/24"}, []string{"198.18.0.255"}
		}},
		{"host name target is excluded", func(s *Spec) {
			s.Targets, s.Excludes = []string{"db.example"}, []string{"db.example"}
		}},
		{"group widens the targets", func(s *Spec) {
			s.Groups = []PortGroup{{Ports: []uint16{22}, Targets: []string{"198.18.0.2", "198.18.0.0/24"}}}
		}},
		{"group leaves a target out", func(s *Spec) {
			s.Targets = []string{"198.18.0.2", "198.18.0.9"}
			s.Groups = []PortGroup{{Ports: []uint16{22}, Targets: []string{"198.18.0.2"}}}
		}},
		{"group without ports", func(s *Spec) { s.Groups = []PortGroup{{Targets: []string{"198.18.0.2"}}} }},
		{"group ports unsorted", func(s *Spec) { s.Groups = []PortGroup{{Ports: []uint16{80, 22}, Targets: []string{"198.18.0.2"}}} }},
		{"group port 0", func(s *Spec) { s.Groups = []PortGroup{{Ports: []uint16{0, 22}, Targets: []string{"198.18.0.2"}}} }},
		{"too many groups", func(s *Spec) {
			s.Targets = nil
			for i := range MaxPortGroups + 1 {
				t := fmt.Sprintf("198.18.0.%d", i+1)
				s.Targets = append(s.Targets, t)
				s.Groups = append(s.Groups, PortGroup{Ports: []uint16{uint16(i + 1)}, Targets: []string{t}})
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good
			s.Options = append([]string(nil), good.Options...)
			tt.change(&s)
			if err := s.Validate(); !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("Validate() = %v, want ErrInvalidSpec", err)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	if got := RawKey(7, 12, 2, Nmap); got != "runs/7/12/2/nmap.xml" {
		t.Errorf("RawKey = %q", got)
	}
	if got := PartialKey(7, 12, 2); got != "runs/7/12/2/partial.xml" {
		t.Errorf("PartialKey = %q", got)
	}
	if got := ExportKey(7, "results.csv"); got != "runs/7/export/results.csv" {
		t.Errorf("ExportKey = %q", got)
	}
}

func FuzzParseOptions(f *testing.F) {
	for _, p := range safeProfiles {
		f.Add(p.scanner == Masscan, p.in)
	}
	for _, p := range hostileProfiles {
		f.Add(p.scanner == Masscan, p.in)
	}
	f.Fuzz(func(t *testing.T, masscan bool, in string) {
		scanner := Nmap
		if masscan {
			scanner = Masscan
		}
		set, err := ParseOptionSet(scanner, in)
		if err != nil {
			if !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("error %v is not ErrInvalidOptions", err)
			}
			return
		}
		for _, it := range set.items {
			if _, ok := policies[scanner].options[it.Name]; !ok {
				t.Fatalf("%q: accepted option %q is not in the allow-list", in, it.Name)
			}
			if _, bad := refusedReason(scanner, it.Name); bad {
				t.Fatalf("%q: accepted refused option %q", in, it.Name)
			}
		}
		args := set.Args()
		for _, a := range args {
			if printableASCII(a) != nil {
				t.Fatalf("%q: argument %q is not printable ASCII", in, a)
			}
		}
		// The agent parses the canonical form again and must get the same.
		again, err := ParseOptionArgs(scanner, args)
		if err != nil {
			t.Fatalf("%q: canonical form %q refused: %v", in, args, err)
		}
		if !slices.Equal(again.items, set.items) {
			t.Fatalf("%q: canonical form %q parses to %v, not %v", in, args, again.items, set.items)
		}
	})
}
