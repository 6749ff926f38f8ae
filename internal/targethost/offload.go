package targethost

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// offloads are the ethtool settings by which libpcap decides its frame size:
// the legacy get and set commands of each.
var offloads = []struct {
	name     string
	get, set uint32
}{
	{"tso", unix.ETHTOOL_GTSO, unix.ETHTOOL_STSO},
	{"gso", unix.ETHTOOL_GGSO, unix.ETHTOOL_SGSO},
	{"gro", unix.ETHTOOL_GGRO, unix.ETHTOOL_SGRO},
}

// noOffloads turns off segmentation and receive offloads (TSO, GSO, GRO) on
// the interface named ifName, which must be in this process's namespace.
//
// masscan reads its answers through libpcap in immediate mode, whose ring
// holds frames sized for the largest packet the interface can hand over:
// with any offload on, 64 KiB each, so the ring of its default 2 MiB
// buffer holds only 32 frames. A masscan whose receive thread waits for
// a CPU longer than 32 answers take to arrive loses the rest, open ports
// among them, and says nothing. With the offloads off, frames are sized
// by the MTU and the same buffer holds over a thousand.
func noOffloads(ifName string) error {
	for _, o := range offloads {
		if _, err := ethtoolValue(ifName, o.set, 0); err != nil {
			return fmt.Errorf("ethtool %s off on %s: %w", o.name, ifName, err)
		}
	}
	return nil
}

// ethtoolValue runs one ethtool command that takes or gives a struct
// ethtool_value, as libpcap does, and returns the value the kernel left.
func ethtoolValue(ifName string, cmd, data uint32) (uint32, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	val := struct{ cmd, data uint32 }{cmd, data}
	// struct ifreq, its union holding a pointer to the ethtool command.
	var ifr struct {
		name [unix.IFNAMSIZ]byte
		data unsafe.Pointer
		_    [16]byte
	}
	copy(ifr.name[:unix.IFNAMSIZ-1], ifName)
	ifr.data = unsafe.Pointer(&val)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
		return 0, errno
	}
	return val.data, nil
}
