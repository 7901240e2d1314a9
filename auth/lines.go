package auth

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ParseLines reads the credential files of the methods: one NAME:VALUE a
// line, blank lines and lines starting with # skipped. It calls add for
// each line with its name and value (spaces around each trimmed); a line
// without a colon or a name is an error saying want (its format, such as
// "CONSUMER:SHA256HEX"), and add's error is given the line's number. It
// returns every error at once.
func ParseLines(r io.Reader, want string, add func(name, value string) error) error {
	var errs []error
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name, value, ok := strings.Cut(text, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" {
			errs = append(errs, fmt.Errorf("line %d: want %s", line, want))
			continue
		}
		if err := add(name, value); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", line, err))
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
