package certs

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrNoTicketKeys is a session ticket key file without any key.
var ErrNoTicketKeys = errors.New("no session ticket key in the file")

// LoadTicketKeys reads session ticket keys: one key per line, 64
// hexadecimal digits (32 bytes, as `openssl rand -hex 32` prints);
// blank lines and lines starting with # are ignored. The first key
// encrypts new tickets, every key decrypts. Give every instance of a
// fleet the same file so any of them resumes the others' sessions; to
// rotate, put the new key first and keep the old one after it for a
// ticket lifetime (7 days at most in crypto/tls), then drop it. Errors
// name the file and line.
func LoadTicketKeys(file string) ([][32]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, &FileError{Path: file, Err: unwrapPathError(err)}
	}
	var keys [][32]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var key [32]byte
		if len(line) != 2*len(key) {
			return nil, &FileError{Path: file, Err: fmt.Errorf("line %d: a key is 64 hexadecimal digits, this line has %d characters", n, len(line))}
		}
		if _, err := hex.Decode(key[:], []byte(line)); err != nil {
			return nil, &FileError{Path: file, Err: fmt.Errorf("line %d: not hexadecimal: %v", n, err)}
		}
		keys = append(keys, key)
	}
	if err := sc.Err(); err != nil {
		return nil, &FileError{Path: file, Err: err}
	}
	if len(keys) == 0 {
		return nil, &FileError{Path: file, Err: ErrNoTicketKeys}
	}
	return keys, nil
}
