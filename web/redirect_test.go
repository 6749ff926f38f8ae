package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scantron/scantron/accounts"
)

// The classic open-redirect bypasses, as an attacker would put them in a
// link to /login?next=..., each as the server receives it (form and query
// values arrive decoded once).
var redirectBypasses = []string{
	"//evil.example",
	"//evil.example/",
	"///evil.example",
	"////evil.example",
	"/\\evil.example",
	"\\\\evil.example",
	"/\t/evil.example",
	"/%09/evil.example",
	"/\n/evil.example",
	"/%0a/evil.example",
	"/%0d%0a/evil.example",
	"/\r\nSet-Cookie: a=b",
	"/%2F/evil.example",
	"/%2f%2fevil.example",
	"%2F%2Fevil.example",
	"/%5Cevil.example",
	"/%5cevil.example",
	"/%252F/evil.example",
	"/%25252F/evil.example",
	"/%2525252F/evil.example",
	"/ /evil.example",
	"/%20/evil.example",
	"/\u00a0/evil.example",
	"/\u3000/evil.example",
	"/%E3%80%80/evil.example",
	"/\u200b/evil.example",
	"/\x00/evil.example",
	"/%00/evil.example",
	"/.//evil.example",
	"/..//evil.example",
	"/%2e%2e//evil.example",
	"/./%2Fevil.example",
	"https://evil.example/",
	"http:evil.example",
	"http:/evil.example",
	"javascript:alert(1)",
	"JaVaScRiPt:alert(1)",
	"data:text/html,<script>alert(1)</script>",
	"evil.example",
	" /runs",
	"",
	"/%zz",
	"/\xff/evil.example",
}

func TestLocalPathRefusesBypasses(t *testing.T) {
	for _, next := range redirectBypasses {
		if got := localPath(next); got != "/" {
			t.Errorf("localPath(%q) = %q, want /", next, got)
		}
	}
	for _, ok := range []string{"/", "/runs/5", "/runs?site=3&page=2", "/assets?q=a%20b%2Fc", "/scans/1#shards"} {
		if got := localPath(ok); got != ok {
			t.Errorf("localPath(%q) = %q, want it kept", ok, got)
		}
	}
}

// TestLoginRedirectBypasses sends each bypass through the login form and
// the login page, as a victim following an attacker's link would.
func TestLoginRedirectBypasses(t *testing.T) {
	e := newEnv(t)
	name := e.userWithPassword(t, accounts.Viewer)
	for _, next := range redirectBypasses {
		w := e.login(t, name, testPassword, next)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
			t.Errorf("next %q: %d Location %q, want /", next, w.Code, w.Header().Get("Location"))
		}
	}
	// The raw query of the reported link: next=/%09/evil.example.
	w := e.page(t, nil, "GET", "/login?next=/%09/evil.example", nil)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `name="next" value="/"`) {
		t.Errorf("login page keeps the hostile next: %d", w.Code)
	}
}
