package signing

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/scantron/scantron/scan"
)

func newPair(t *testing.T) (*Signer, *Verifier) {
	t.Helper()
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

var (
	now  = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	spec = scan.Spec{
		RunID: 7, ShardID: 12, Scanner: scan.Nmap,
		Options:  []string{"-n", "-sT", "-p", "22,80"},
		Targets:  []string{"198.18.0.0/24", "scanme.example"},
		Excludes: []string{"198.18.1.1"},
	}
)

func TestVerify(t *testing.T) {
	signer, verifier := newPair(t)
	signed := signer.Sign(spec, now.Add(time.Hour))
	if err := verifier.Verify(signed, now); err != nil {
		t.Fatalf("a freshly signed spec: %v", err)
	}
	// Through JSON, as Temporal carries it.
	b, err := json.Marshal(signed)
	if err != nil {
		t.Fatal(err)
	}
	var carried scan.Spec
	if err := json.Unmarshal(b, &carried); err != nil {
		t.Fatal(err)
	}
	if err := verifier.Verify(carried, now); err != nil {
		t.Fatalf("after a JSON round trip: %v", err)
	}

	_, otherVerifier := newPair(t)
	tests := []struct {
		name   string
		change func(*scan.Spec)
		v      *Verifier
		at     time.Time
		want   error
	}{
		{"unsigned", func(s *scan.Spec) { s.Signature = nil }, verifier, now, ErrUnsigned},
		{"no expiry", func(s *scan.Spec) { s.Expires = time.Time{} }, verifier, now, ErrUnsigned},
		{"run id", func(s *scan.Spec) { s.RunID++ }, verifier, now, ErrBadSignature},
		{"shard id", func(s *scan.Spec) { s.ShardID = 13 }, verifier, now, ErrBadSignature},
		{"scanner", func(s *scan.Spec) { s.Scanner = scan.Masscan }, verifier, now, ErrBadSignature},
		{"rate raised", func(s *scan.Spec) { s.Rate = 1e6 }, verifier, now, ErrBadSignature},
		{"option changed", func(s *scan.Spec) { s.Options = []string{"-n", "-sT", "-p", "1-65535"} }, verifier, now, ErrBadSignature},
		{"option added", func(s *scan.Spec) { s.Options = append(s.Options, "-O") }, verifier, now, ErrBadSignature},
		{"options merged", func(s *scan.Spec) { s.Options = []string{"-n -sT", "-p", "22,80"} }, verifier, now, ErrBadSignature},
		{"target added", func(s *scan.Spec) { s.Targets = append(s.Targets, "203.0.113.0/24") }, verifier, now, ErrBadSignature},
		{"target replaced", func(s *scan.Spec) { s.Targets = []string{"0.0.0.0/0", "scanme.example"} }, verifier, now, ErrBadSignature},
		{"exclusion removed", func(s *scan.Spec) { s.Excludes = nil }, verifier, now, ErrBadSignature},
		{"exclusion moved to targets", func(s *scan.Spec) {
			s.Targets, s.Excludes = append(s.Targets, s.Excludes...), nil
		}, verifier, now, ErrBadSignature},
		{"expiry extended", func(s *scan.Spec) { s.Expires = s.Expires.Add(time.Hour) }, verifier, now, ErrBadSignature},
		{"signature flipped", func(s *scan.Spec) { s.Signature[3] ^= 1 }, verifier, now, ErrBadSignature},
		{"signature cut", func(s *scan.Spec) { s.Signature = s.Signature[:32] }, verifier, now, ErrBadSignature},
		{"another server's key", func(*scan.Spec) {}, otherVerifier, now, ErrBadSignature},
		{"expired", func(*scan.Spec) {}, verifier, now.Add(time.Hour), ErrExpired},
		{"long expired", func(*scan.Spec) {}, verifier, now.Add(30 * 24 * time.Hour), ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := carried
			s.Options = append([]string(nil), carried.Options...)
			s.Targets = append([]string(nil), carried.Targets...)
			s.Excludes = append([]string(nil), carried.Excludes...)
			s.Signature = append([]byte(nil), carried.Signature...)
			tt.change(&s)
			err := tt.v.Verify(s, tt.at)
			if !errors.Is(err, tt.want) || !errors.Is(err, scan.ErrInvalidSpec) {
				t.Fatalf("Verify = %v, want %v (an ErrInvalidSpec)", err, tt.want)
			}
		})
	}
}

func TestMessageNilAndEmptyAlike(t *testing.T) {
	a, b := spec, spec
	a.Excludes, b.Excludes = nil, []string{}
	if string(Message(a)) != string(Message(b)) {
		t.Error("nil and empty exclusions encode differently; JSON may turn one into the other")
	}
}

func TestKeyFiles(t *testing.T) {
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := MarshalPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "signing.key")
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	back, err := ReadPrivateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(key) {
		t.Error("private key changed in a round trip")
	}
	signer, _ := NewSigner(back)
	pub, err := ParsePublicKey(EncodePublicKey(signer.PublicKey()) + "\n")
	if err != nil || !pub.Equal(key.Public()) {
		t.Errorf("public key round trip: %v", err)
	}

	for _, bad := range []string{"", "c2hvcnQ=", "not base64!", EncodePublicKey(signer.PublicKey())[:40]} {
		if _, err := ParsePublicKey(bad); err == nil {
			t.Errorf("ParsePublicKey(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"} {
		if _, err := ParsePrivateKey([]byte(bad)); err == nil {
			t.Errorf("ParsePrivateKey(%q) accepted", bad)
		}
	}
	if _, err := NewSigner(key[:10]); err == nil {
		t.Error("NewSigner took a short key")
	}
	if _, err := NewVerifier(nil); err == nil {
		t.Error("NewVerifier took no key")
	}
}

// TestVerifyDispatch: a dispatched spec is bound to its task queue, attempt,
// nonce and object URLs: changing any of them breaks the signature, and the
// agent refuses it from another queue or without a dispatch.
func TestVerifyDispatch(t *testing.T) {
	signer, verifier := newPair(t)
	bound := spec
	bound.Dispatch = &scan.Dispatch{TaskQueue: "agent.edge-1", Attempt: 2, Nonce: "n1", Objects: scan.ShardURLs{
		Bucket: "scantron", OutputPut: "http://s3/put-output", ResumePut: "http://s3/put-resume",
		ResumeKey: "runs/7/12/1/partial.xml", ResumeGet: "http://s3/get-resume"}}
	signed := signer.Sign(bound, now.Add(time.Hour))
	if err := verifier.VerifyDispatch(signed, "agent.edge-1", now); err != nil {
		t.Fatalf("a dispatched spec on its queue: %v", err)
	}
	tests := []struct {
		name   string
		change func(*scan.Dispatch)
		queue  string
		want   error
	}{
		{"from another queue", func(*scan.Dispatch) {}, "pool.edge", ErrWrongQueue},
		{"queue rewritten", func(d *scan.Dispatch) { d.TaskQueue = "pool.edge" }, "pool.edge", ErrBadSignature},
		{"attempt changed", func(d *scan.Dispatch) { d.Attempt = 1 }, "agent.edge-1", ErrBadSignature},
		{"nonce changed", func(d *scan.Dispatch) { d.Nonce = "n0" }, "agent.edge-1", ErrBadSignature},
		{"output URL swapped", func(d *scan.Dispatch) { d.Objects.OutputPut = "http://evil/put" }, "agent.edge-1", ErrBadSignature},
		{"resume read widened", func(d *scan.Dispatch) { d.Objects.ResumeKey = "runs/8/1/1/nmap.xml" }, "agent.edge-1", ErrBadSignature},
		{"bucket changed", func(d *scan.Dispatch) { d.Objects.Bucket = "other" }, "agent.edge-1", ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := signed
			d := *signed.Dispatch
			tt.change(&d)
			s.Dispatch = &d
			if err := verifier.VerifyDispatch(s, tt.queue, now); !errors.Is(err, tt.want) || !errors.Is(err, scan.ErrInvalidSpec) {
				t.Fatalf("VerifyDispatch = %v, want %v", err, tt.want)
			}
		})
	}
	dropped := signed
	dropped.Dispatch = nil
	if err := verifier.VerifyDispatch(dropped, "agent.edge-1", now); !errors.Is(err, ErrBadSignature) {
		t.Errorf("dispatch dropped: %v", err)
	}
	if err := verifier.VerifyDispatch(signer.Sign(spec, now.Add(time.Hour)), "agent.edge-1", now); !errors.Is(err, ErrNotDispatched) {
		t.Errorf("signed without a dispatch: %v", err)
	}
}

// A grouped spec's groups are signed: a port added to a group, a target
// moved to another group, or the groups dropped (the hosts scanned on the
// options' ports) are refused.
func TestVerifyGroups(t *testing.T) {
	signer, verifier := newPair(t)
	grouped := func() scan.Spec {
		return scan.Spec{RunID: 7, ShardID: 12, Scanner: scan.Nmap, Options: []string{"-sV"},
			Targets: []string{"198.18.0.1", "198.18.0.2-198.18.0.3"},
			Groups: []scan.PortGroup{{Ports: []uint16{22, 80}, Targets: []string{"198.18.0.1"}},
				{Ports: []uint16{443}, Targets: []string{"198.18.0.2-198.18.0.3"}}}}
	}
	signed := signer.Sign(grouped(), now.Add(time.Hour))
	if err := verifier.Verify(signed, now); err != nil {
		t.Fatalf("a signed grouped spec: %v", err)
	}
	tests := []struct {
		name   string
		change func(*scan.Spec)
	}{
		{"port added", func(s *scan.Spec) { s.Groups[0].Ports = []uint16{22, 80, 8080} }},
		{"port moved", func(s *scan.Spec) { s.Groups[0].Ports, s.Groups[1].Ports = []uint16{22}, []uint16{80, 443} }},
		{"target moved", func(s *scan.Spec) {
			s.Groups[0].Targets, s.Groups[1].Targets = []string{"198.18.0.1", "198.18.0.2-198.18.0.3"}, nil
		}},
		{"groups dropped", func(s *scan.Spec) { s.Groups = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := grouped()
			s.Expires, s.Signature = signed.Expires, signed.Signature
			tt.change(&s)
			if err := verifier.Verify(s, now); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify = %v, want %v", err, ErrBadSignature)
			}
		})
	}
}
