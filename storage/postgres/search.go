package postgres

import "strings"

// containsPattern is an ILIKE pattern matching text that contains q
// literally: the pattern characters %, _ and the escape \ in q match only
// themselves. An empty q gives "" (no filter).
func containsPattern(q string) string {
	if q == "" {
		return ""
	}
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(q) + "%"
}
