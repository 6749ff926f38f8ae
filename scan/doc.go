// Package scan holds Scantron's domain types and rules: what a target is, how a
// site's targets and exclusions resolve into the set a scanner is given, what a
// scan profile may contain, and the job spec an agent runs. It depends on the
// standard library only, so every other package can share it.
package scan
