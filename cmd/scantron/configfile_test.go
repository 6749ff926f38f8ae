package main

import (
	"github.com/scantron/scantron/scan"

	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An agent can take its settings from a file: a flag beats the
// environment, which beats the file, which beats the default.
func TestLoadConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.conf")
	content := `# agent edge-3
SCANTRON_AGENT_NAME=edge-3
SCANTRON_AGENT_CAPACITY = 6
SCANTRON_AGENT_POOLS="edge,dmz"
SCANTRON_WORK_DIR='/var/lib/scantron work'
SCANTRON_TEMPORAL_ADDRESS=temporal.internal:7233
SCANTRON_SERVER_PUBLIC_KEY=MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqo=
`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	environ := map[string]string{"SCANTRON_TEMPORAL_ADDRESS": "temporal.env:7233"}
	cfg, err := loadConfig("agent", []string{"--config", path, "--capacity", "3"}, env(environ), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AgentName != "edge-3" || cfg.AgentCapacity != 3 || strings.Join(cfg.AgentPools, ",") != "edge,dmz" ||
		cfg.WorkDir != "/var/lib/scantron work" || cfg.TemporalAddress != "temporal.env:7233" || cfg.ScannerPaths[scan.Nmap] != "nmap" {
		t.Errorf("config = %+v", cfg)
	}
	// The file may also be named by the environment.
	environ["SCANTRON_CONFIG"] = path
	if cfg, err := loadConfig("agent", nil, env(environ), &bytes.Buffer{}); err != nil || cfg.AgentCapacity != 6 {
		t.Errorf("SCANTRON_CONFIG: capacity %d, %v", cfg.AgentCapacity, err)
	}

	for _, bad := range []string{"SCANTRON_AGENT_NAM=edge-3\n", "just words\n", "SCANTRON_WORK_DIR\n"} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := loadConfig("agent", []string{"--config", path}, env(agentEnv), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("config file %q: error %v, want one naming line 1", bad, err)
		}
	}
	if _, err := loadConfig("agent", []string{"--config", filepath.Join(t.TempDir(), "missing")}, env(agentEnv), &bytes.Buffer{}); err == nil {
		t.Error("a missing config file was accepted")
	}
}
