//go:build linux

package workers

import (
	"bufio"
	"encoding/binary"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
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

// FileRawSockets reports whether the program at path gets CAP_NET_RAW from
// its file capabilities (setcap cap_net_raw+ep), as the Dockerfile gives
// nmap and masscan, so that it may open raw sockets though the agent
// cannot.
func FileRawSockets(path string) bool {
	buf := make([]byte, 64)
	n, err := unix.Getxattr(path, "security.capability", buf)
	// vfs_cap_data: magic_etc, then permitted and inheritable of the low
	// 32 capabilities, little-endian.
	if err != nil || n < 8 {
		return false
	}
	permitted := binary.LittleEndian.Uint32(buf[4:8])
	return permitted&(1<<capNetRaw) != 0
}
