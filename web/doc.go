// Package web is Scantron's HTTP face: the JSON API under /api/v1 that manages
// sites, exclusions, profiles, agents and scans and starts, lists and cancels
// runs, and a small server-rendered UI. Every route is registered in
// router.go; handlers are methods on per-resource structs whose dependencies
// are the small interfaces declared beside them.
package web
