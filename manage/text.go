package manage

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on the text fields of every resource.
const (
	MaxNameLen        = 100
	MaxDescriptionLen = 2000
)

// CleanName trims a name and checks it is 1 to 100 printable characters.
func CleanName(field, v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", invalid(field, "required")
	}
	if n := utf8.RuneCountInString(v); n > MaxNameLen {
		return "", invalid(field, "%q is %d characters long, the limit is %d", Clip(v), n, MaxNameLen)
	}
	if err := CheckPrintable(field, v); err != nil {
		return "", err
	}
	return v, nil
}

// CleanText trims free text and bounds its length.
func CleanText(field, v string, limit int) (string, error) {
	v = strings.TrimSpace(v)
	if n := utf8.RuneCountInString(v); n > limit {
		return "", invalid(field, "%d characters long, the limit is %d", n, limit)
	}
	if !utf8.ValidString(v) {
		return "", invalid(field, "not valid UTF-8")
	}
	// Free text may run over lines and hold tabs; nothing else invisible.
	if i := strings.IndexFunc(v, IsTextControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(v[i:])
		return "", invalid(field, "contains the control character %s", strconv.QuoteRune(r))
	}
	return v, nil
}

// CheckPrintable refuses a value that is not UTF-8 or holds a control
// character.
func CheckPrintable(field, v string) error {
	if !utf8.ValidString(v) {
		return invalid(field, "%q is not valid UTF-8", Clip(v))
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return invalid(field, "%q contains a control character", Clip(v))
		}
	}
	return nil
}

// Clip shortens a value quoted back in an error message.
func Clip(v string) string {
	const keep = 100
	if utf8.RuneCountInString(v) <= keep {
		return v
	}
	return string([]rune(v)[:keep]) + "…"
}

// IsControl reports the C0 and C1 control characters and DEL.
func IsControl(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f)
}

// IsTextControl reports the control characters free text may not hold:
// all but tab, newline and carriage return.
func IsTextControl(r rune) bool {
	return IsControl(r) && r != '\t' && r != '\n' && r != '\r'
}
