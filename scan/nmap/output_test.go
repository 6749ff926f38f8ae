package nmap

import (
	"slices"
	"testing"
	"time"
)

func TestOutputOptions(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		want []string
	}{
		{"xml", []Option{WithXMLOutput("shard-7.xml")}, []string{"-oX", "shard-7.xml"}},
		{"xml path with spaces", []Option{WithXMLOutput("scan dir/out.xml")}, []string{"-oX", "scan dir/out.xml"}},
		{"empty xml path", []Option{WithXMLOutput("")}, nil},
		{"stats in seconds", []Option{WithStatsEvery(5 * time.Second)}, []string{"--stats-every", "5s"}},
		{"stats in minutes", []Option{WithStatsEvery(2 * time.Minute)}, []string{"--stats-every", "120s"}},
		{"stats in milliseconds", []Option{WithStatsEvery(1500 * time.Millisecond)}, []string{"--stats-every", "1500ms"}},
		{"stats below a millisecond", []Option{WithStatsEvery(10 * time.Microsecond)}, []string{"--stats-every", "1ms"}},
		{"stats rounded up", []Option{WithStatsEvery(200*time.Millisecond + 1)}, []string{"--stats-every", "201ms"}},
		{"no stats", []Option{WithStatsEvery(0)}, nil},
		{"negative stats", []Option{WithStatsEvery(-time.Second)}, nil},
		{"last call wins", []Option{WithXMLOutput("a.xml"), WithXMLOutput("b.xml"), WithStatsEvery(time.Second), WithStatsEvery(0)},
			[]string{"-oX", "b.xml"}},
		{"both", []Option{WithStatsEvery(time.Second), WithXMLOutput("out.xml")}, []string{"-oX", "out.xml", "--stats-every", "1s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Args(tt.opts...); !slices.Equal(got, tt.want) {
				t.Errorf("Args = %q, want %q", got, tt.want)
			}
		})
	}
}
