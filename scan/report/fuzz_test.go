package report

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParse feeds arbitrary documents to Parse. It must never panic, must
// never call fn once fn has failed or Parse has returned, must stop at the
// callback's error, and must report Complete exactly when it succeeds.
func FuzzParse(f *testing.F) {
	for _, fx := range fixtures {
		f.Add(readFixture(f, fx.file), uint8(0))
	}
	f.Add([]byte(head+hostA+hostB+foot), uint8(2))
	f.Add([]byte(`<?xml version="1.0"?><!DOCTYPE nmaprun [<!ENTITY x "y">]><nmaprun><host>&x;</host></nmaprun>`), uint8(1))
	f.Fuzz(func(t *testing.T, doc []byte, failAt uint8) {
		stop := errors.New("stop")
		calls, failed, returned := 0, false, false
		info, err := Parse(bytes.NewReader(doc), func(h Host) error {
			if failed || returned {
				t.Fatalf("fn called after it failed (%v) or after Parse returned (%v)", failed, returned)
			}
			calls++
			if failAt != 0 && calls == int(failAt) {
				failed = true
				return stop
			}
			return nil
		})
		returned = true
		if failed && err != stop {
			t.Fatalf("fn failed but Parse returned %v", err)
		}
		if info.Complete != (err == nil) {
			t.Fatalf("Complete = %v with err %v", info.Complete, err)
		}
		if err != nil && err != stop && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("unclassified error %v", err)
		}
	})
}
