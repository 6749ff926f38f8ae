package accounts

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestRoleAllows(t *testing.T) {
	for _, tc := range []struct {
		have, need Role
		want       bool
	}{
		{Admin, Admin, true}, {Admin, Operator, true}, {Admin, Viewer, true},
		{Operator, Admin, false}, {Operator, Operator, true}, {Operator, Viewer, true},
		{Viewer, Admin, false}, {Viewer, Operator, false}, {Viewer, Viewer, true},
		{"", Viewer, false}, {"root", Viewer, false},
	} {
		if got := tc.have.Allows(tc.need); got != tc.want {
			t.Errorf("%q.Allows(%q) = %v, want %v", tc.have, tc.need, got, tc.want)
		}
	}
	if _, err := ParseRole("superuser"); err == nil || !strings.Contains(err.Error(), "superuser") {
		t.Errorf("ParseRole(superuser): %v", err)
	}
	if r, err := ParseRole(" operator "); err != nil || r != Operator {
		t.Errorf("ParseRole(operator) = %q, %v", r, err)
	}
}

func TestPasswords(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$2") || strings.Contains(h, "correct horse") {
		t.Fatalf("hash %q is not a bcrypt hash", h)
	}
	if err := CheckPassword(h, "correct horse battery"); err != nil {
		t.Errorf("right password refused: %v", err)
	}
	if err := CheckPassword(h, "correct horse batterY"); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("wrong password: %v", err)
	}
	for _, bad := range []string{"", "short", strings.Repeat("x", 73), strings.Repeat(" ", 12), "\t\n \u00a0" + strings.Repeat(" ", 12),
		"correct\x00horse battery", "correct horse\x1bbattery", "correct horse\u0085battery", "correct horse \xff battery"} {
		if _, err := HashPassword(bad); err == nil || !strings.Contains(err.Error(), "password:") {
			t.Errorf("HashPassword(%d chars) = %v, want a refusal", len(bad), err)
		}
	}
}

func TestSecrets(t *testing.T) {
	a, b := NewToken(), NewToken()
	if a == b || !strings.HasPrefix(a, TokenPrefix) || len(a) < 40 {
		t.Fatalf("tokens %q %q", a, b)
	}
	if bytes.Equal(HashSecret(a), HashSecret(b)) || len(HashSecret(a)) != 32 {
		t.Error("hashes of different secrets collide or have the wrong size")
	}
	if !SameSecret(a, a) || SameSecret(a, b) {
		t.Error("SameSecret")
	}
	for _, n := range []string{"alice", "bob.smith@example", "0ps"} {
		if err := CheckName(n); err != nil {
			t.Errorf("CheckName(%q): %v", n, err)
		}
	}
	for _, n := range []string{"", "Alice", "-x", "a b", strings.Repeat("a", 64)} {
		if err := CheckName(n); err == nil {
			t.Errorf("CheckName(%q) accepted", n)
		}
	}
}
