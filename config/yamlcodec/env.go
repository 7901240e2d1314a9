package yamlcodec

import (
	"errors"
	"fmt"
	"strings"
)

// LookupFunc reads an environment variable; os.LookupEnv in production.
type LookupFunc func(name string) (string, bool)

// Expand replaces environment references in s:
//
//	${NAME}          the value of NAME; an error when NAME is not set
//	${NAME:-default} the value of NAME, or default when NAME is unset or empty
//	$${              a literal "${"
//
// A default runs up to the first "}" and is not expanded again; neither is
// the value of a variable. refs reports whether s held any reference, so the
// caller can treat the value as a secret.
func Expand(s string, lookup LookupFunc) (out string, refs bool, err error) {
	if !strings.Contains(s, "${") {
		return s, false, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "$${") {
			b.WriteString("${")
			i += 3
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			b.WriteByte(s[i])
			i++
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return "", true, errors.New(`unterminated "${" (write "$${" for a literal "${")`)
		}
		ref := s[i+2 : i+2+end]
		i += 2 + end + 1
		refs = true
		name, def, hasDef := strings.Cut(ref, ":-")
		if !ValidEnvName(name) {
			return "", true, fmt.Errorf("invalid environment variable name %q in \"${%s}\"", name, ref)
		}
		val, ok := lookup(name)
		switch {
		case hasDef && val == "":
			val = def
		case !ok:
			return "", true, fmt.Errorf("environment variable %s is not set", name)
		}
		b.WriteString(val)
	}
	return b.String(), refs, nil
}

// EscapeEnv makes s read back as itself through Expand.
func EscapeEnv(s string) string {
	return strings.ReplaceAll(s, "${", "$${")
}

// ValidEnvName reports whether s is [A-Za-z_][A-Za-z0-9_]*.
func ValidEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
