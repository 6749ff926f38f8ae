package postgres

import "strings"

// likeEscaper escapes the LIKE pattern characters %, _ and the escape \
// itself, so that text matches only itself.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// escapeLike is s as literal text in a LIKE pattern (with ESCAPE '\', the
// default).
func escapeLike(s string) string { return likeEscaper.Replace(s) }

// containsPattern is an ILIKE pattern matching text that contains q
// literally. An empty q gives "" (no filter).
func containsPattern(q string) string {
	if q == "" {
		return ""
	}
	return "%" + escapeLike(q) + "%"
}
