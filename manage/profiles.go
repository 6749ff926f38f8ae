package manage

import (
	"context"
	"errors"
	"strings"
	"unicode"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/driver"
	"github.com/scantron/scantron/scan/scanners"
)

// ProfileStore keeps scanner profiles.
type ProfileStore interface {
	CreateProfile(ctx context.Context, p scan.Profile) (scan.Profile, error)
	GetProfile(ctx context.Context, id int64) (scan.Profile, error)
	ListProfiles(ctx context.Context) ([]scan.Profile, error)
	UpdateProfile(ctx context.Context, p scan.Profile) (scan.Profile, error)
	DeleteProfile(ctx context.Context, id int64) error
}

// Profiles creates, changes and deletes scanner profiles.
type Profiles struct {
	Store ProfileStore
	// MaxRate is the server's packet-rate ceiling (packets/s; 0 = none).
	MaxRate float64
	// Check refuses a change that a scan of the profile could never run
	// with; nil checks nothing.
	Check *Checker
}

// ProfileInput is what a client may write of a profile.
type ProfileInput struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Scanner     string `json:"scanner"`
	Options     string `json:"options"`
	Intrusive   bool   `json:"intrusive"`
	// DiscoveryScanner and DiscoveryOptions make the profile two-stage
	// (scan.Profile); both empty: one stage.
	DiscoveryScanner string `json:"discovery_scanner,omitempty"`
	DiscoveryOptions string `json:"discovery_options,omitempty"`
}

// MaxOptionsLen bounds a profile's scanner options.
const MaxOptionsLen = 4000

// profile checks a profile as role would save it: only an admin may save
// one whose options run intrusive scripts, or set its intrusive flag, and
// such options need the flag (so that nobody runs an intrusive profile
// unawares).
func (p *Profiles) profile(role accounts.Role, in ProfileInput) (scan.Profile, error) {
	name, err := CleanName("name", in.Name)
	if err != nil {
		return scan.Profile{}, err
	}
	desc, err := CleanText("description", in.Description, MaxDescriptionLen)
	if err != nil {
		return scan.Profile{}, err
	}
	if strings.TrimSpace(in.Scanner) == "" {
		return scan.Profile{}, invalid("scanner", "required (one of %s)", scan.ScannerList())
	}
	scanner, err := scan.ParseScanner(strings.TrimSpace(in.Scanner))
	if err != nil {
		return scan.Profile{}, invalid("scanner", "%v", err)
	}
	opts, set, err := p.options("options", scanner, in.Options)
	if err != nil {
		return scan.Profile{}, err
	}
	var discScanner scan.Scanner
	discOpts := ""
	if name := strings.TrimSpace(in.DiscoveryScanner); name != "" {
		if discScanner, err = scan.ParseScanner(name); err != nil {
			return scan.Profile{}, invalid("discovery_scanner", "%v", err)
		}
		if discOpts, _, err = p.options("discovery_options", discScanner, in.DiscoveryOptions); err != nil {
			return scan.Profile{}, err
		}
		if _, err := scanners.Stages(discScanner, scanner, set); err != nil {
			field := "discovery_scanner"
			if errors.Is(err, driver.ErrStagePorts) {
				field = "options"
			}
			return scan.Profile{}, invalid(field, "%v", err)
		}
	} else if strings.TrimSpace(in.DiscoveryOptions) != "" {
		return scan.Profile{}, invalid("discovery_options", "set without a discovery_scanner")
	}
	admin := role.Allows(accounts.Admin)
	intrusive := set.Scripts().Intrusive
	switch {
	case len(intrusive) > 0 && !admin:
		return scan.Profile{}, refuse(Forbidden, "options", "options: only an admin may save a profile that runs intrusive scripts: %s", strings.Join(intrusive, ", "))
	case in.Intrusive && !admin:
		return scan.Profile{}, refuse(Forbidden, "intrusive", "intrusive: only an admin may mark a profile intrusive")
	case len(intrusive) > 0 && !in.Intrusive:
		return scan.Profile{}, invalid("intrusive", "must be set, the options run intrusive scripts: %s", strings.Join(intrusive, ", "))
	}
	return scan.Profile{Name: name, Description: desc, Scanner: scanner, Options: opts, Intrusive: in.Intrusive,
		DiscoveryScanner: discScanner, DiscoveryOptions: discOpts}, nil
}

// options checks one scanner's options of a profile, named field, with
// that scanner's allow-list and the server's rate ceiling.
func (p *Profiles) options(field string, scanner scan.Scanner, options string) (string, scan.OptionSet, error) {
	opts, err := CleanText(field, options, MaxOptionsLen)
	if err != nil {
		return "", scan.OptionSet{}, err
	}
	// Options are split like shell words, so tabs and newlines are just
	// spaces; any other control character has no business there.
	if strings.ContainsFunc(opts, func(r rune) bool { return unicode.IsControl(r) && !unicode.IsSpace(r) }) {
		return "", scan.OptionSet{}, invalid(field, "%q contains a control character", Clip(opts))
	}
	set, err := scan.ParseOptionSet(scanner, opts)
	if err != nil {
		return "", scan.OptionSet{}, invalid(field, "%v", err)
	}
	if err := set.CheckRateCeiling(p.MaxRate); err != nil {
		return "", scan.OptionSet{}, invalid(field, "%v (--max-rate)", err)
	}
	return opts, set, nil
}

// Create checks and stores a new profile, as role saves it.
func (p *Profiles) Create(ctx context.Context, role accounts.Role, in ProfileInput) (scan.Profile, error) {
	prof, err := p.profile(role, in)
	if err != nil {
		return scan.Profile{}, err
	}
	row, err := p.Store.CreateProfile(ctx, prof)
	if err != nil {
		return scan.Profile{}, storeErr(err, scan.ErrConflict, Conflict, "name", "name: a profile named %q already exists", prof.Name)
	}
	return row, nil
}

// Get returns the profile id names.
func (p *Profiles) Get(ctx context.Context, id int64) (scan.Profile, error) {
	row, err := p.Store.GetProfile(ctx, id)
	return row, notFound(err, "profile", id)
}

// List returns every profile.
func (p *Profiles) List(ctx context.Context) ([]scan.Profile, error) {
	return p.Store.ListProfiles(ctx)
}

// Update checks and stores a profile's new definition, as role saves it.
func (p *Profiles) Update(ctx context.Context, role accounts.Role, id int64, in ProfileInput) (scan.Profile, error) {
	prof, err := p.profile(role, in)
	if err != nil {
		return scan.Profile{}, err
	}
	prof.ID = id
	// A profile's scanner and options must still suit every scan's site.
	if err := p.Check.ProfileChange(ctx, id, prof); err != nil {
		return scan.Profile{}, err
	}
	row, err := p.Store.UpdateProfile(ctx, prof)
	if err != nil {
		err = notFound(err, "profile", id)
		return scan.Profile{}, storeErr(err, scan.ErrConflict, Conflict, "name", "name: a profile named %q already exists", prof.Name)
	}
	return row, nil
}

// Delete deletes a profile no scan uses.
func (p *Profiles) Delete(ctx context.Context, id int64) error {
	return deleted(p.Store.DeleteProfile(ctx, id), "profile", id, "is used by a scan; delete or change that scan first")
}
