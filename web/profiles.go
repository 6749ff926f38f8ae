package web

import (
	"context"
	"net/http"
	"strings"
	"unicode"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/storage/postgres"
)

// ProfileStore keeps scanner profiles.
type ProfileStore interface {
	CreateProfile(ctx context.Context, p scan.Profile) (scan.Profile, error)
	GetProfile(ctx context.Context, id int64) (scan.Profile, error)
	ListProfiles(ctx context.Context) ([]scan.Profile, error)
	UpdateProfile(ctx context.Context, p scan.Profile) (scan.Profile, error)
	DeleteProfile(ctx context.Context, id int64) error
}

type profileHandlers struct {
	base
	store   ProfileStore
	maxRate float64 // the server's ceiling, packets/s (0 = none)
	check   *checker
}

type profileRequest struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Scanner     string `json:"scanner"`
	Options     string `json:"options"`
	Intrusive   bool   `json:"intrusive"`
}

const maxOptionsLen = 4000

// profile checks a profile as role would save it: only an admin may save
// one whose options run intrusive scripts, or set its intrusive flag, and
// such options need the flag (so that nobody runs an intrusive profile
// unawares).
func (r profileRequest) profile(role accounts.Role, ceiling float64) (scan.Profile, error) {
	name, err := cleanName("name", r.Name)
	if err != nil {
		return scan.Profile{}, err
	}
	desc, err := cleanText("description", r.Description, maxDescriptionLen)
	if err != nil {
		return scan.Profile{}, err
	}
	if strings.TrimSpace(r.Scanner) == "" {
		return scan.Profile{}, badRequest("scanner: required (nmap or masscan)")
	}
	scanner, err := scan.ParseScanner(strings.TrimSpace(r.Scanner))
	if err != nil {
		return scan.Profile{}, badRequest("scanner: %v", err)
	}
	opts, err := cleanText("options", r.Options, maxOptionsLen)
	if err != nil {
		return scan.Profile{}, err
	}
	// Options are split like shell words, so tabs and newlines are just
	// spaces; any other control character has no business there.
	if strings.ContainsFunc(opts, func(r rune) bool { return unicode.IsControl(r) && !unicode.IsSpace(r) }) {
		return scan.Profile{}, badRequest("options: %q contains a control character", clip(opts))
	}
	set, err := scan.ParseOptionSet(scanner, opts)
	if err != nil {
		return scan.Profile{}, badRequest("options: %v", err)
	}
	if err := set.CheckRateCeiling(ceiling); err != nil {
		return scan.Profile{}, badRequest("options: %v (--max-rate)", err)
	}
	admin := role.Allows(accounts.Admin)
	intrusive := set.Scripts().Intrusive
	switch {
	case len(intrusive) > 0 && !admin:
		return scan.Profile{}, errorf(http.StatusForbidden, "options: only an admin may save a profile that runs intrusive scripts: %s", strings.Join(intrusive, ", "))
	case r.Intrusive && !admin:
		return scan.Profile{}, errorf(http.StatusForbidden, "intrusive: only an admin may mark a profile intrusive")
	case len(intrusive) > 0 && !r.Intrusive:
		return scan.Profile{}, badRequest("intrusive: must be set, the options run intrusive scripts: %s", strings.Join(intrusive, ", "))
	}
	return scan.Profile{Name: name, Description: desc, Scanner: scanner, Options: opts, Intrusive: r.Intrusive}, nil
}

func (h *profileHandlers) create(c *gin.Context) error {
	var req profileRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p, err := req.profile(roleOf(c), h.maxRate)
	if err != nil {
		return err
	}
	row, err := h.store.CreateProfile(c.Request.Context(), p)
	if err != nil {
		return mapErr(err, postgres.ErrConflict, http.StatusConflict, "name: a profile named %q already exists", p.Name)
	}
	created(c, "profiles", row.ID, row)
	return nil
}

func (h *profileHandlers) list(c *gin.Context) error {
	return listAll(c, h.store.ListProfiles, func(p scan.Profile) string { return p.Name })
}

func (h *profileHandlers) get(c *gin.Context) error { return getByID(c, "profile", h.store.GetProfile) }

func (h *profileHandlers) update(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var req profileRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p, err := req.profile(roleOf(c), h.maxRate)
	if err != nil {
		return err
	}
	p.ID = id
	// A profile's scanner and options must still suit every scan's site.
	field := func(f scan.Finding) string {
		if f.Rule == scan.RuleHostNames {
			return "scanner"
		}
		return "options"
	}
	if err := h.check.checkUsers(c.Request.Context(), http.StatusBadRequest, field, func(s scan.Scan) bool { return s.ProfileID == id },
		func(pl *scan.Plan) { pl.Profile = p }, []string{scan.RuleHostNames, scan.RuleAddressFamily}); err != nil {
		return err
	}
	updated, err := h.store.UpdateProfile(c.Request.Context(), p)
	if err != nil {
		err = mapErr(err, postgres.ErrNotFound, http.StatusNotFound, "profile %d not found", id)
		return mapErr(err, postgres.ErrConflict, http.StatusConflict, "name: a profile named %q already exists", p.Name)
	}
	c.JSON(http.StatusOK, updated)
	return nil
}

func (h *profileHandlers) delete(c *gin.Context) error {
	return deleteByID(c, "profile", h.store.DeleteProfile, "is used by a scan; delete or change that scan first")
}
