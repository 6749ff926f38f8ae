package scan

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

//go:generate go run ./internal/scriptdbgen -db /usr/share/nmap/scripts/script.db -out scriptdb_table.go

// NmapScript is one entry of nmap's script.db: a script's name (its file
// name without .nse) and its categories.
type NmapScript struct {
	Name       string
	Categories []string
}

var scriptDBLine = regexp.MustCompile(`^Entry \{ filename = "([^"]+)\.nse", categories = \{((?: "[a-z]+",)*) \} \}$`)

// ParseScriptDB reads nmap's scripts/script.db (written by nmap
// --script-updatedb, one Entry line per script), sorted by name with
// sorted categories.
func ParseScriptDB(r io.Reader) ([]NmapScript, error) {
	var out []NmapScript
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		m := scriptDBLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("script.db line %d: not an Entry: %q", n, line)
		}
		var cats []string
		for _, c := range strings.Split(m[2], ",") {
			if c = strings.Trim(strings.TrimSpace(c), `"`); c != "" {
				cats = append(cats, c)
			}
		}
		slices.Sort(cats)
		out = append(out, NmapScript{Name: m[1], Categories: slices.Compact(cats)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("script.db: %w", err)
	}
	slices.SortFunc(out, func(a, b NmapScript) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
