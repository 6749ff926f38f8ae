package manage

import (
	"context"
	"slices"
	"strings"

	"github.com/scantron/scantron/scan"
)

// ExclusionStore keeps the global exclusions, which no scan ever touches.
type ExclusionStore interface {
	CreateExclusion(ctx context.Context, e scan.Exclusion) (scan.Exclusion, error)
	ListExclusions(ctx context.Context) ([]scan.Exclusion, error)
	DeleteExclusion(ctx context.Context, id int64) error
}

// Exclusions adds and removes global exclusions.
type Exclusions struct {
	Store ExclusionStore
	// Check refuses an exclusion added or removed that a scan could never
	// run with; nil checks nothing.
	Check *Checker
}

// ExclusionInput is a new global exclusion.
type ExclusionInput struct {
	Target string `json:"target"`
	Note   string `json:"note"`
}

// Create checks and stores a global exclusion.
func (x *Exclusions) Create(ctx context.Context, in ExclusionInput) (scan.Exclusion, error) {
	if _, err := scan.ParseTarget(in.Target); err != nil {
		return scan.Exclusion{}, invalid("target", "%v", err)
	}
	note, err := CleanText("note", in.Note, MaxDescriptionLen)
	if err != nil {
		return scan.Exclusion{}, err
	}
	e := scan.Exclusion{Target: strings.TrimSpace(in.Target), Note: note}
	if err := x.Check.ExclusionAdded(ctx, e.Target); err != nil {
		return scan.Exclusion{}, err
	}
	row, err := x.Store.CreateExclusion(ctx, e)
	if err != nil {
		return scan.Exclusion{}, storeErr(err, scan.ErrConflict, Conflict, "target", "target: %q is already excluded", e.Target)
	}
	return row, nil
}

// List returns every global exclusion.
func (x *Exclusions) List(ctx context.Context) ([]scan.Exclusion, error) {
	return x.Store.ListExclusions(ctx)
}

// Delete removes a global exclusion unless that would put a scan over the
// address limit (a run of it would fail).
func (x *Exclusions) Delete(ctx context.Context, id int64) error {
	if x.Check != nil {
		all, err := x.Store.ListExclusions(ctx)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(all, func(e scan.Exclusion) bool { return e.ID == id })
		if i < 0 {
			return notFound(scan.ErrNotFound, "exclusion", id)
		}
		if err := x.Check.ExclusionRemoved(ctx, id, all[i].Target); err != nil {
			return err
		}
	}
	return deleted(x.Store.DeleteExclusion(ctx, id), "exclusion", id, "is in use")
}
