package scan

import (
	"fmt"
	"strings"
)

// SplitOptions splits a profile's option string the way a POSIX shell splits
// words, honouring single and double quotes and backslashes, but expanding
// nothing: no variables, globs or command substitution.
func SplitOptions(s string) ([]string, error) {
	var (
		out     []string
		cur     strings.Builder
		inWord  bool
		quote   rune
		escaped bool
	)
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quote != 0:
			if r == quote {
				quote = 0
			} else if r == '\\' && quote == '"' {
				escaped = true
			} else {
				cur.WriteRune(r)
			}
		case r == '\\':
			escaped, inWord = true, true
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("%w: unterminated %c quote", ErrInvalidOptions, quote)
	}
	if escaped {
		return nil, fmt.Errorf("%w: trailing backslash", ErrInvalidOptions)
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

// Options that only the agent may set (it chooses every file path and the
// targets), or that read or write files on the agent, or that pick targets of
// their own. They are refused in profiles.
var refusedOptions = map[Scanner][]string{
	Nmap: {
		"-iL", "-iR", "-oN", "-oX", "-oG", "-oA", "-oS", "-oM", "-oH",
		"--resume", "--datadir", "--servicedb", "--versiondb", "--script-args-file",
		"--excludefile", "--exclude", "--stylesheet", "--append-output", "--log-errors",
		"-e", "-S", "--send-eth", "--iflist", "--script-updatedb", "--unprivileged-unsafe",
	},
	Masscan: {
		"-iL", "--includefile", "--excludefile", "--exclude", "-c", "--conf", "--echo",
		"-oX", "-oG", "-oJ", "-oL", "-oB", "-oD", "-oH", "--output-filename", "--output-format",
		"--readscan", "--pcap", "--pcap-payloads", "--nmap-payloads", "--resume", "--resume-index",
		"--adapter", "-e", "--adapter-ip", "--adapter-mac", "--router-mac", "--router-ip",
		"--source-ip", "--hello-file",
	},
}

// CheckOptions refuses options that would let a profile read or write files on
// an agent, change its environment, or choose targets outside the scan. The
// error names the option.
func CheckOptions(scanner Scanner, args []string) error {
	refused := refusedOptions[scanner]
	if refused == nil {
		return fmt.Errorf("%w: unknown scanner %q", ErrInvalidOptions, scanner)
	}
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(a, "=")
		for _, r := range refused {
			// -oX and -iL also come glued to their value: -oXfile, -iLlist.
			glued := len(r) == 3 && r[1] != '-' && strings.HasPrefix(a, r)
			if name == r || glued {
				return fmt.Errorf("%w: option %s is not allowed in a profile", ErrInvalidOptions, r)
			}
		}
	}
	if scanner == Nmap {
		for i, a := range args {
			var val string
			switch {
			case strings.HasPrefix(a, "--script="):
				val = strings.TrimPrefix(a, "--script=")
			case a == "--script" && i+1 < len(args):
				val = args[i+1]
			default:
				continue
			}
			if strings.ContainsAny(val, `/\`) || strings.Contains(val, "..") {
				return fmt.Errorf("%w: option --script must name scripts or categories, not a path (%q)", ErrInvalidOptions, val)
			}
		}
	}
	return nil
}

// ParseOptions splits and checks a profile's option string.
func ParseOptions(scanner Scanner, options string) ([]string, error) {
	args, err := SplitOptions(options)
	if err != nil {
		return nil, err
	}
	if err := CheckOptions(scanner, args); err != nil {
		return nil, err
	}
	return args, nil
}
