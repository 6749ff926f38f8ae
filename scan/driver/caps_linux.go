package driver

import (
	"bufio"
	"encoding/binary"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// capNetRaw is CAP_NET_RAW's bit number.
const capNetRaw = 13

// RawSocketAccess says whether a scanner binary started by this process can
// open raw sockets (SYN, UDP and OS scans; masscan always): as root, through
// CAP_NET_RAW in this process's ambient set (systemd AmbientCapabilities=),
// or through file capabilities on the binary
// (setcap cap_net_raw,cap_net_admin+eip /usr/bin/nmap).
func RawSocketAccess(binary string) RawAccess {
	has := func(field string) bool {
		v, ok := statusCaps(field)
		return ok && v&(1<<capNetRaw) != 0
	}
	var a RawAccess
	// Root without CAP_NET_RAW (a container that dropped it) has no raw
	// sockets, and no file capability can exceed the bounding set.
	a.Root = os.Geteuid() == 0 && has("CapEff")
	a.Ambient = has("CapAmb")
	if path, err := exec.LookPath(binary); err == nil && has("CapBnd") {
		a.FileCaps = fileHasNetRaw(path)
	}
	return a
}

// statusCaps reads a capability set (CapEff, CapAmb, ...) of this process
// from /proc/self/status.
func statusCaps(field string) (uint64, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if ok && name == field {
			n, err := strconv.ParseUint(strings.TrimSpace(val), 16, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// fileHasNetRaw reports whether path carries CAP_NET_RAW as a permitted and
// effective file capability (the security.capability attribute: a
// little-endian magic/flags word, then the permitted and inheritable sets).
func fileHasNetRaw(path string) bool {
	buf := make([]byte, 64)
	n, err := syscall.Getxattr(path, "security.capability", buf)
	if err != nil || n < 8 {
		return false
	}
	magic := binary.LittleEndian.Uint32(buf[0:4])
	permitted := binary.LittleEndian.Uint32(buf[4:8])
	const effective = 0x1
	return magic&effective != 0 && permitted&(1<<capNetRaw) != 0
}
