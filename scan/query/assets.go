package query

import "time"

// AssetFilter selects and pages the hosts of sites' assets. Zero values
// select everything.
type AssetFilter struct {
	SiteID int64 // 0: every site
	// Query keeps the hosts with a port it matches, and of them only those
	// ports; the empty query keeps every host (with or without ports) and
	// all its ports. It is over the current assets: a run: query is refused.
	Query  Query
	Now    time.Time // ages in Query count back from it; zero: the database's now()
	Limit  int
	Offset int
}
