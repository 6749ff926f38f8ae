// Package manage holds the operations that change what Scantron scans and
// how: sites, global exclusions, profiles, pools and scans (with their
// Temporal Schedules). Each operation validates its input, stores it and
// performs its side effects; a refusal is an *Error that names the field it
// concerns. The REST API and the UI's forms are two faces of these same
// operations: both call them directly and render their errors, the API as
// JSON and the UI beside the field on the form.
package manage
