package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/scantron/scantron/scan/signing"
)

// runKeygen makes a spec signing key pair: the private key (PEM) goes to
// the -out file, which must not exist yet, and the public key to
// -out.pub; without -out both are printed. The public key, which agents
// are configured with, is printed either way.
func runKeygen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scantron keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "file to write the private key to (created 0600; must not exist); \"\" prints it")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "scantron keygen: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	key, err := signing.GenerateKey()
	if err != nil {
		fmt.Fprintln(stderr, "scantron keygen:", err)
		return 1
	}
	pem, err := signing.MarshalPrivateKey(key)
	if err != nil {
		fmt.Fprintln(stderr, "scantron keygen:", err)
		return 1
	}
	signer, _ := signing.NewSigner(key)
	pub := signing.EncodePublicKey(signer.PublicKey())
	if *out == "" {
		fmt.Fprintf(stdout, "%s\nSCANTRON_SERVER_PUBLIC_KEY=%s\n", pem, pub)
		return 0
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		fmt.Fprintln(stderr, "scantron keygen:", err)
		return 1
	}
	if _, err := f.Write(pem); err != nil {
		f.Close()
		fmt.Fprintln(stderr, "scantron keygen:", err)
		return 1
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(stderr, "scantron keygen:", err)
		return 1
	}
	if err := os.WriteFile(*out+".pub", []byte(pub+"\n"), 0o644); err != nil {
		fmt.Fprintln(stderr, "scantron keygen:", err)
		return 1
	}
	fmt.Fprintf(stdout, "SCANTRON_SIGNING_KEY=%s\nSCANTRON_SERVER_PUBLIC_KEY=%s\n", *out, pub)
	return 0
}
