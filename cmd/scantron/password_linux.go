package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// readPasswordFromTerminal prompts for a password with echo off when in is
// a terminal; ok is false when it is not one.
func readPasswordFromTerminal(in io.Reader, prompt io.Writer, question string) (string, bool, error) {
	f, isFile := in.(*os.File)
	if !isFile {
		return "", false, nil
	}
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", false, nil // not a terminal
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return "", true, fmt.Errorf("turn terminal echo off: %w", err)
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old) //nolint:errcheck // best effort on the way out
	fmt.Fprint(prompt, question)
	line, err := bufio.NewReader(f).ReadString('\n')
	fmt.Fprintln(prompt)
	if err != nil && err != io.EOF {
		return "", true, err
	}
	return strings.TrimRight(line, "\r\n"), true, nil
}
