//go:build linux

package workers

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// capNetRaw is CAP_NET_RAW's bit in the capability sets.
const capNetRaw = 13

// RawSockets reports whether this process may open raw sockets: it has
// CAP_NET_RAW in its effective set (root has it unless it was dropped).
// SYN scans, OS detection and masscan need it.
func RawSockets() bool {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return os.Geteuid() == 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<capNetRaw) != 0
		}
	}
	return os.Geteuid() == 0
}
