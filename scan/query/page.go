package query

import "time"

// Options pages a search and fixes its clock.
type Options struct {
	Limit  int       // 0 or less: no limit
	Offset int       //
	Now    time.Time // ages (seen:<7d) count back from it; zero: the database's now()
	// MaxCount stops counting matches there (0: count them all): a count
	// is what costs most in a broad query over a million ports.
	MaxCount int
}

// Result is a page of hits and how many match in all; when Capped,
// Total is Options.MaxCount and more match.
type Result struct {
	Hits   []Hit
	Total  int
	Capped bool
}
