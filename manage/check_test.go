package manage

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/scan"
)

// checkStore holds one site, one profile, one agent, one scan of them and
// the global exclusions in memory: what the checks read, and the writes of
// the operations under test (recorded, so a refusal can be seen to store
// nothing).
type checkStore struct {
	site    scan.Site
	profile scan.Profile
	agent   scan.Agent
	scan    scan.Scan
	global  []scan.Exclusion
	writes  int
}

func (s *checkStore) LoadPlan(_ context.Context, id int64) (scan.Plan, error) {
	if id != s.scan.ID {
		return scan.Plan{}, scan.ErrNotFound
	}
	p := scan.Plan{Scan: s.scan, Site: s.site, Profile: s.profile, Agent: s.agent}
	for _, e := range s.global {
		p.GlobalExclusions = append(p.GlobalExclusions, e.Target)
	}
	return p, nil
}
func (s *checkStore) PoolMember(context.Context, string, string) (bool, bool, error) {
	return false, true, nil
}
func (s *checkStore) ListScans(context.Context) ([]scan.Scan, error) { return []scan.Scan{s.scan}, nil }
func (s *checkStore) ListExclusions(context.Context) ([]scan.Exclusion, error) {
	return s.global, nil
}
func (s *checkStore) GetSite(context.Context, int64) (scan.Site, error)       { return s.site, nil }
func (s *checkStore) GetProfile(context.Context, int64) (scan.Profile, error) { return s.profile, nil }
func (s *checkStore) GetAgent(context.Context, int64) (scan.Agent, error)     { return s.agent, nil }
func (s *checkStore) GetPool(context.Context, int64) (scan.Pool, error) {
	return scan.Pool{}, scan.ErrNotFound
}
func (s *checkStore) CreateExclusion(_ context.Context, e scan.Exclusion) (scan.Exclusion, error) {
	s.writes++
	return e, nil
}
func (s *checkStore) DeleteExclusion(context.Context, int64) error { s.writes++; return nil }
func (s *checkStore) CreateProfile(_ context.Context, p scan.Profile) (scan.Profile, error) {
	s.writes++
	return p, nil
}
func (s *checkStore) ListProfiles(context.Context) ([]scan.Profile, error) { return nil, nil }
func (s *checkStore) UpdateProfile(_ context.Context, p scan.Profile) (scan.Profile, error) {
	s.writes++
	return p, nil
}
func (s *checkStore) DeleteProfile(context.Context, int64) error { return nil }
func (s *checkStore) CreateSite(_ context.Context, x scan.Site) (scan.Site, error) {
	s.writes++
	return x, nil
}
func (s *checkStore) ListSites(context.Context) ([]scan.Site, error) { return nil, nil }
func (s *checkStore) UpdateSite(_ context.Context, x scan.Site) (scan.Site, error) {
	s.writes++
	return x, nil
}
func (s *checkStore) DeleteSite(context.Context, int64) error { return nil }

// A change that would break the stored scan is refused by the operation
// that saves it, as an *Error of the right kind naming the field at fault
// and the scan, and nothing is stored; the same change with no scan it
// breaks is stored.
func TestSavesRefuseChangesThatBreakAScan(t *testing.T) {
	ctx := context.Background()
	fresh := func() *checkStore {
		return &checkStore{
			site:    scan.Site{ID: 1, Name: "lab", Targets: []string{"198.18.0.0/24"}},
			profile: scan.Profile{ID: 2, Name: "fast", Scanner: scan.Masscan, Options: "-p80"},
			agent:   scan.Agent{ID: 3, Name: "edge", TaskQueue: "agent-edge"},
			scan:    scan.Scan{ID: 4, Name: "lab-web", SiteID: 1, ProfileID: 2, AgentID: 3},
			global:  []scan.Exclusion{{ID: 5, Target: "198.18.0.0/25"}},
		}
	}
	for _, tt := range []struct {
		name   string
		store  func() *checkStore
		op     func(st *checkStore, k *Checker) error
		kind   Kind
		field  string
		prefix string
	}{
		{"global exclusion with a host name, masscan scan", fresh, func(st *checkStore, k *Checker) error {
			_, err := (&Exclusions{Store: st, Check: k}).Create(ctx, ExclusionInput{Target: "ceo-laptop.example"})
			return err
		}, Invalid, "target", `target: it would break scan "lab-web"`},
		{"site targets with a host name, masscan scan", fresh, func(st *checkStore, k *Checker) error {
			_, err := (&Sites{Store: st, Check: k, MaxAddresses: 1000}).Update(ctx, 1, SiteInput{Name: "lab", Targets: []string{"web.example"}})
			return err
		}, Invalid, "targets", `targets: it would break scan "lab-web"`},
		{"profile turned masscan, site with a host name", func() *checkStore {
			st := fresh()
			st.site.Targets = []string{"web.example"}
			st.profile.Scanner, st.profile.Options = scan.Nmap, "-sT -p80"
			return st
		}, func(st *checkStore, k *Checker) error {
			_, err := (&Profiles{Store: st, Check: k}).Update(ctx, accounts.Admin, 2, ProfileInput{Name: "fast", Scanner: "masscan", Options: "-p80"})
			return err
		}, Invalid, "scanner", `scanner: it would break scan "lab-web"`},
		{"removing the exclusion that keeps the scan under the limit", fresh, func(st *checkStore, k *Checker) error {
			return (&Exclusions{Store: st, Check: k}).Delete(ctx, 5)
		}, Conflict, "", `exclusion 5 (198.18.0.0/25): it would break scan "lab-web"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.store()
			err := tt.op(st, &Checker{Store: st, MaxAddresses: 200})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want a *manage.Error", err)
			}
			if e.Kind != tt.kind || e.Field != tt.field || !strings.HasPrefix(e.Msg, tt.prefix) {
				t.Errorf("got kind %d field %q message %q; want kind %d field %q message starting %q", e.Kind, e.Field, e.Msg, tt.kind, tt.field, tt.prefix)
			}
			if st.writes != 0 {
				t.Errorf("a refused change was stored (%d writes)", st.writes)
			}
			// Without a checker the same change is stored.
			st = tt.store()
			if err := tt.op(st, nil); err != nil || st.writes != 1 {
				t.Errorf("without checks: error %v, %d writes; want it stored", err, st.writes)
			}
		})
	}
}
