package basic

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ParseHtpasswd reads users from htpasswd text: NAME:HASH per line, blank
// lines and # comments skipped. Only bcrypt hashes (htpasswd -B) are
// accepted; any other kind (MD5 $apr1$, {SHA}, crypt, plain) is an error
// naming its line, as are malformed lines.
func ParseHtpasswd(r io.Reader) ([]User, error) {
	var users []User
	var errs []error
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name, hash, ok := strings.Cut(text, ":")
		if !ok || name == "" {
			errs = append(errs, fmt.Errorf("line %d: want NAME:BCRYPT-HASH", line))
			continue
		}
		u := User{Name: name, Hash: hash}
		if err := checkUser(u); err != nil {
			errs = append(errs, fmt.Errorf("line %d (%s): %w; make it with htpasswd -B", line, name, err))
			continue
		}
		users = append(users, u)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	return users, errors.Join(errs...)
}

// LoadHtpasswd reads users from the htpasswd file at path (see
// ParseHtpasswd); errors name the file and line.
func LoadHtpasswd(path string) ([]User, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("basic: %w", err)
	}
	defer f.Close()
	users, err := ParseHtpasswd(f)
	if err != nil {
		return nil, fmt.Errorf("basic: %s: %w", path, err)
	}
	return users, nil
}
