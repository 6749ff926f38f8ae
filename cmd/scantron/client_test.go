package main

import (
	"strings"
	"testing"
)

func TestRunPercentAndBar(t *testing.T) {
	var r clientRun
	r.Status = "running"
	r.Shards = append(r.Shards, struct {
		Index  int    `json:"index"`
		Status string `json:"status"`
	}{0, "completed"}, struct {
		Index  int    `json:"index"`
		Status string `json:"status"`
	}{1, "running"})
	r.Progress = append(r.Progress, struct {
		ShardIndex int     `json:"shard_index"`
		Percent    float64 `json:"percent"`
		Task       string  `json:"task"`
		Waiting    bool    `json:"waiting"`
	}{ShardIndex: 1, Percent: 50})
	if got := r.percent(); got != 75 {
		t.Errorf("percent = %v, want 75 (one shard done, one half way)", got)
	}
	for pct, want := range map[float64]string{
		0: "[..........]   0.0%", 75: "[#######...]  75.0%", 100: "[##########] 100.0%", 140: "[##########] 100.0%",
	} {
		if got := progressBar(pct, 10); got != want {
			t.Errorf("progressBar(%v) = %q, want %q", pct, got, want)
		}
	}
	if splitList(" a, ,b ") == nil || strings.Join(splitList(" a, ,b "), "|") != "a|b" {
		t.Errorf("splitList = %q", splitList(" a, ,b "))
	}
}
