package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/scantron/scantron/manage"
)

// maxJSONDepth bounds how deeply a request body nests objects and arrays;
// no request of the API needs more than three levels.
const maxJSONDepth = 32

// checkJSONText refuses, before any field is decoded, what encoding/json
// would quietly accept or change: bytes that are not UTF-8 (it would store
// U+FFFD), unpaired surrogate escapes (the same), control characters other
// than tab, newline and carriage return (NUL ends up refused by
// PostgreSQL as a 500), a key given twice (the last one would win), and
// nesting deeper than maxJSONDepth. Errors name the field, as
// "targets[2]" or "name". Syntax errors are left to the decoder, whose
// message is better.
func checkJSONText(body []byte) error {
	if !utf8.Valid(body) {
		off := 0
		for off < len(body) {
			r, n := utf8.DecodeRune(body[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return badRequest("%s: not valid UTF-8 (byte %d of the body)", jsonFieldAt(body, int64(off)), off)
	}
	// encoding/json takes null for a struct and changes nothing.
	if bytes.Equal(bytes.TrimSpace(body), []byte("null")) {
		return badRequest("request body must be a JSON object, not null")
	}
	return walkJSON(body, func(stack []*jsonFrame, tok json.Token, isKey bool, start, end int64) error {
		raw := body[start:end]
		switch v := tok.(type) {
		case json.Delim: // '{' or '['
			if len(stack) >= maxJSONDepth {
				return badRequest("request body nests deeper than %d levels", maxJSONDepth)
			}
		case string:
			if err := checkJSONString(jsonPath(stack), v, raw); err != nil {
				return err
			}
			if isKey && stack[len(stack)-1].keys[v] {
				return badRequest("%s: given twice; send each field once", jsonPath(stack))
			}
		}
		return nil
	})
}

// walkJSON calls visit for each key and value of body, outside in, with
// the objects and arrays that hold it (the last one's key or index being
// that of the token) and where the token's text ends, and where the
// previous token's ended. A syntax error ends the walk without error: the
// decoder explains those better.
func walkJSON(body []byte, visit func(stack []*jsonFrame, tok json.Token, isKey bool, start, end int64) error) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var (
		stack []*jsonFrame
		prev  int64
	)
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		start, end := prev, dec.InputOffset()
		prev = end
		var top *jsonFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				stack[len(stack)-1].valueDone()
			}
			continue
		}
		if top != nil && !top.array && top.wantKey {
			key, _ := tok.(string)
			top.key, top.wantKey = key, false
			if err := visit(stack, tok, true, start, end); err != nil {
				return err
			}
			top.keys[key] = true
			continue
		}
		if top != nil && top.array {
			top.index++
		}
		if err := visit(stack, tok, false, start, end); err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			f := &jsonFrame{array: d == '[', index: -1}
			if !f.array {
				f.keys, f.wantKey = map[string]bool{}, true
			}
			stack = append(stack, f)
			continue
		}
		if top != nil {
			top.valueDone()
		}
	}
}

// jsonFieldAt names the field whose text holds byte off of body, for
// errors about bytes the JSON decoder cannot read: the body is walked with
// those bytes made harmless.
func jsonFieldAt(body []byte, off int64) string {
	clean := make([]byte, len(body))
	for i := 0; i < len(body); {
		r, n := utf8.DecodeRune(body[i:])
		n = max(n, 1)
		if (r == utf8.RuneError && n == 1) || isTextControl(r) || (int64(i) <= off && off < int64(i+n)) {
			copy(clean[i:i+n], bytes.Repeat([]byte("?"), n))
		} else {
			copy(clean[i:i+n], body[i:i+n])
		}
		i += n
	}
	field := "request body"
	found := errors.New("found")
	_ = walkJSON(clean, func(stack []*jsonFrame, _ json.Token, _ bool, start, end int64) error {
		if start <= off && off < end {
			field = jsonPath(stack)
			return found
		}
		return nil
	})
	return field
}

// jsonFrame is one open object or array while checkJSONText walks a body.
type jsonFrame struct {
	array   bool
	index   int             // the array's current element
	keys    map[string]bool // the object's keys so far
	key     string          // the object's current key
	wantKey bool
}

func (f *jsonFrame) valueDone() {
	if !f.array {
		f.wantKey = true
	}
}

// jsonPath names the value being read: the keys and indexes that lead to
// it.
func jsonPath(stack []*jsonFrame) string {
	var b strings.Builder
	for _, f := range stack {
		if f.array {
			fmt.Fprintf(&b, "[%d]", f.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(clip(f.key))
	}
	if b.Len() == 0 {
		return "request body"
	}
	return b.String()
}

// checkJSONString checks one decoded string s whose JSON text (with what
// precedes it in the body) is raw.
func checkJSONString(field, s string, raw []byte) error {
	if i := strings.IndexFunc(s, isTextControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return badRequest("%s: contains the control character %s, which no field accepts", field, strconv.QuoteRune(r))
	}
	// encoding/json turns an unpaired surrogate escape (\ud800) into
	// U+FFFD, as it would an invalid byte; more U+FFFD than the text wrote
	// (literally or as \ufffd) means one was made up.
	if n := strings.Count(s, "\uFFFD"); n > 0 {
		lit := bytes.Count(raw, []byte("\uFFFD")) + bytes.Count(bytes.ToLower(raw), []byte(`\ufffd`))
		if n > lit {
			return badRequest("%s: holds an unpaired UTF-16 surrogate escape, which is not valid Unicode", field)
		}
	}
	return nil
}

// isControl and isTextControl are the rules free text follows everywhere.
var (
	isControl     = manage.IsControl
	isTextControl = manage.IsTextControl
)

// readJSONBody reads the whole (bounded) body, answering 413 past the
// limit.
func readJSONBody(r io.Reader) ([]byte, error) {
	if r == nil {
		return nil, badRequest("request body is empty")
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, jsonError(err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, badRequest("request body is empty")
	}
	return b, nil
}
