package basic

import (
	"fmt"
	"io"
	"os"

	"github.com/fastgate/gateway/auth"
)

// ParseHtpasswd reads users from htpasswd text: NAME:HASH per line, blank
// lines and # comments skipped. Only bcrypt hashes (htpasswd -B) are
// accepted; any other kind (MD5 $apr1$, {SHA}, crypt, plain) is an error
// naming its line, as are malformed lines.
func ParseHtpasswd(r io.Reader) ([]User, error) {
	var users []User
	err := auth.ParseLines(r, "NAME:BCRYPT-HASH", func(name, hash string) error {
		u := User{Name: name, Hash: hash}
		if err := checkUser(u); err != nil {
			return fmt.Errorf("%s: %w; make it with htpasswd -B", name, err)
		}
		users = append(users, u)
		return nil
	})
	return users, err
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
