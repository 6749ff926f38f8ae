// Package workflows holds Scantron's deterministic orchestration: the scan
// workflow, its IDs and task queues. It performs no I/O; every side effect is
// an activity.
package workflows
