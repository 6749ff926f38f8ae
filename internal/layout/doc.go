// Package layout holds the tests that keep the code's seams where the
// README's layout puts them: gin only in web, no storage types in web,
// scanners named only by their drivers, workflows free of client and
// storage code. It has no code of its own.
package layout
