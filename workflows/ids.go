package workflows

import (
	"fmt"
	"strings"
	"time"
)

// ServerTaskQueue is polled by the orchestrator worker inside `scantron server`:
// workflows and result activities run there.
const ServerTaskQueue = "scantron.server"

// AgentTaskQueue is the task queue that only the named agent polls.
func AgentTaskQueue(agentName string) string {
	return "agent." + agentName
}

// AgentNameFromTaskQueue reverses AgentTaskQueue.
func AgentNameFromTaskQueue(q string) (string, bool) {
	return strings.CutPrefix(q, "agent.")
}

// ScanRunWorkflowID names the workflow of a run started by hand at t. Runs
// started by a schedule get their ID from Temporal (schedule ID + fire time).
func ScanRunWorkflowID(scanID int64, t time.Time) string {
	return fmt.Sprintf("scan-%d-run-%s", scanID, t.UTC().Format("20060102T150405.000000000Z"))
}
