package manage

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/scan"
)

// Refusals name the field they concern, also when the message points
// inside it (an entry of a list, a part of a schedule), so that a form can
// show each beside its field. Input refused before any storage is asked
// needs no store.
func TestRefusalsNameTheirField(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	start := "2030-01-03T00:00:00Z"
	scans := &Scans{Now: func() time.Time { return now }}
	for _, tt := range []struct {
		name   string
		op     func() error
		kind   Kind
		field  string
		prefix string
	}{
		{"site name", func() error {
			_, err := (&Sites{}).Create(ctx, SiteInput{Name: " ", Targets: []string{"198.18.0.1"}})
			return err
		},
			Invalid, "name", "name: required"},
		{"site target entry", func() error {
			_, err := (&Sites{}).Create(ctx, SiteInput{Name: "s", Targets: []string{"198.18.0.1", "198.18.0.0/33"}})
			return err
		}, Invalid, "targets", "targets[1]: "},
		{"site rate ceiling", func() error {
			_, err := (&Sites{MaxRate: 10}).Create(ctx, SiteInput{Name: "s", Targets: []string{"198.18.0.1"}, MaxRate: 11})
			return err
		}, Invalid, "max_rate", "max_rate: 11 packets/s"},
		{"exclusion", func() error { _, err := (&Exclusions{}).Create(ctx, ExclusionInput{Target: "nope!"}); return err },
			Invalid, "target", "target: "},
		{"profile intrusive for an operator", func() error {
			_, err := (&Profiles{}).Create(ctx, accounts.Operator, ProfileInput{Name: "p", Scanner: "nmap", Options: "-sT", Intrusive: true})
			return err
		}, Forbidden, "intrusive", "intrusive: only an admin"},
		{"pool name", func() error { _, err := (&Pools{}).Create(ctx, PoolInput{Name: "Bad Name"}); return err },
			Invalid, "name", "name: \"Bad Name\" is not a valid pool name"},
		{"scan without agent or pool", func() error {
			_, err := scans.Create(ctx, ScanInput{Name: "s", SiteID: 1, ProfileID: 1})
			return err
		}, Invalid, "agent_id", "agent_id, pool_id: give exactly one"},
		{"scan rule", func() error {
			_, err := scans.Create(ctx, ScanInput{Name: "s", SiteID: 1, ProfileID: 1, AgentID: 1, StartAt: &start, RRule: "FREQ=SOMETIMES"})
			return err
		}, Invalid, "rrule", "rrule: "},
		{"scan zone", func() error {
			_, err := scans.Create(ctx, ScanInput{Name: "s", SiteID: 1, ProfileID: 1, AgentID: 1, TimeZone: "Mars/Olympus"})
			return err
		}, Invalid, "time_zone", "time_zone: "},
		{"scan window entry", func() error {
			_, err := scans.Create(ctx, ScanInput{Name: "s", SiteID: 1, ProfileID: 1, AgentID: 1, Windows: []string{"mon-fri 22:00-06:00", "03:00-03:00"}})
			return err
		}, Invalid, "windows", "windows[1]: \"03:00-03:00\" starts and ends at the same time"},
		{"scan windows count", func() error {
			_, err := scans.Create(ctx, ScanInput{Name: "s", SiteID: 1, ProfileID: 1, AgentID: 1, Windows: make([]string, scan.MaxWindows+1)})
			return err
		}, Invalid, "windows", "windows: 51 windows, the limit is 50"},
		{"notification email entry", func() error {
			_, err := NotificationsInput{EmailTo: []string{"ops@example.com", "Ops <ops@example.com>"}}.settings(1, scan.Notifications{})
			return err
		}, Invalid, "email_to", "email_to[1]: "},
		{"join token pools need no store when there are none", func() error {
			_, _, err := (&JoinTokens{}).check(ctx, JoinTokenInput{AgentName: "edge-1", TTL: "3d"})
			return err
		}, Invalid, "ttl", "ttl: \"3d\""},
		{"user role", func() error {
			_, err := (&Users{}).Create(ctx, UserInput{Name: "u", Role: "king", Password: "long enough password"})
			return err
		},
			Invalid, "role", "role: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var e *Error
			if err := tt.op(); !errors.As(err, &e) {
				t.Fatalf("got %v, want a *manage.Error", err)
			}
			if e.Kind != tt.kind || e.Field != tt.field || !strings.HasPrefix(e.Msg, tt.prefix) {
				t.Errorf("got kind %d field %q message %q; want kind %d field %q message starting %q", e.Kind, e.Field, e.Msg, tt.kind, tt.field, tt.prefix)
			}
		})
	}
}
