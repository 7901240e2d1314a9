package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/fastgate/gateway/auth/apikey"
)

// maxKeyInput bounds what hash-key reads from standard input.
const maxKeyInput = 64 << 10

// cmdHashKey prints the SHA-256 of an API key, as routes'
// access.api_key.keys[].sha256 and key files hold it. The key is the
// argument, or the first line of stdin (better: it stays out of the
// shell's history and the process list).
func cmdHashKey(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hash-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	consumer := fs.String("consumer", "", "print a key file line CONSUMER:HASH instead of the hash alone")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var key string
	switch fs.NArg() {
	case 0:
		line, err := bufio.NewReader(io.LimitReader(stdin, maxKeyInput)).ReadString('\n')
		if err != nil && err != io.EOF {
			fmt.Fprintf(stderr, "gateway hash-key: %v\n", err)
			return 1
		}
		key = strings.TrimRight(line, "\r\n")
	case 1:
		key = fs.Arg(0)
	default:
		fmt.Fprint(stderr, "gateway hash-key: give one key, or none to read it from stdin\n")
		return 2
	}
	if key == "" {
		fmt.Fprint(stderr, "gateway hash-key: the key is empty\n")
		return 1
	}
	if *consumer != "" {
		fmt.Fprintf(stdout, "%s:%s\n", *consumer, apikey.Hash(key))
		return 0
	}
	fmt.Fprintln(stdout, apikey.Hash(key))
	return 0
}
