package jwks

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
)

// errNoUsableKey is returned when a key set holds no key that can verify.
var errNoUsableKey = errors.New("jwks: the key set holds no usable signing key")

// jwk is the part of a JSON Web Key (RFC 7517, 7518, 8037) that matters.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// ParseSet decodes a JWKS document. Keys that cannot verify signatures
// here (encryption keys, symmetric keys, unknown types or curves, RSA
// under MinRSABits, malformed values) are skipped and counted in skipped;
// a document without one usable key is an error.
func ParseSet(doc []byte) (keys []*Key, skipped int, err error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, 0, fmt.Errorf("jwks: not a JSON Web Key Set: %w", err)
	}
	for _, raw := range set.Keys {
		k, err := parseKey(raw)
		if err != nil {
			skipped++
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, skipped, errNoUsableKey
	}
	return keys, skipped, nil
}

func parseKey(raw json.RawMessage) (*Key, error) {
	var j jwk
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, err
	}
	if j.Use != "" && j.Use != "sig" {
		return nil, errors.New("jwks: not a signing key")
	}
	if j.Alg != "" && !SupportedAlgorithm(j.Alg) {
		return nil, fmt.Errorf("jwks: unsupported algorithm %q", j.Alg)
	}
	var pub any
	switch j.Kty {
	case "RSA":
		n, err1 := b64(j.N)
		e, err2 := b64(j.E)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		k, err := rsaKey(n, e)
		if err != nil {
			return nil, err
		}
		pub = k
	case "EC":
		curve := curveOf(j.Crv)
		if curve == nil {
			return nil, fmt.Errorf("jwks: unsupported curve %q", j.Crv)
		}
		x, err1 := b64(j.X)
		y, err2 := b64(j.Y)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		size := (curve.Params().BitSize + 7) / 8
		if len(x) != size || len(y) != size {
			return nil, errors.New("jwks: EC coordinates of the wrong length")
		}
		point := append(append([]byte{4}, x...), y...)
		k, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return nil, err
		}
		pub = k
	case "OKP":
		if j.Crv != "Ed25519" {
			return nil, fmt.Errorf("jwks: unsupported curve %q", j.Crv)
		}
		x, err := b64(j.X)
		if err != nil {
			return nil, err
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, errors.New("jwks: Ed25519 key of the wrong length")
		}
		pub = ed25519.PublicKey(x)
	default:
		return nil, fmt.Errorf("jwks: unsupported key type %q", j.Kty)
	}
	if j.Alg != "" && !keyFits(pub, j.Alg) {
		return nil, fmt.Errorf("jwks: algorithm %q does not fit key type %q", j.Alg, j.Kty)
	}
	return &Key{ID: j.Kid, Public: pub, Alg: j.Alg, material: j.Kty + "|" + j.Crv + "|" + j.N + "|" + j.E + "|" + j.X + "|" + j.Y}, nil
}

func b64(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("jwks: empty key value")
	}
	return base64.RawURLEncoding.DecodeString(s)
}

func rsaKey(n, e []byte) (*rsa.PublicKey, error) {
	if len(e) == 0 || len(e) > 4 {
		return nil, errors.New("jwks: RSA exponent out of range")
	}
	exp := 0
	for _, b := range e {
		exp = exp<<8 | int(b)
	}
	if exp < 3 || exp%2 == 0 {
		return nil, errors.New("jwks: RSA exponent out of range")
	}
	k := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}
	if k.N.BitLen() < MinRSABits {
		return nil, fmt.Errorf("jwks: RSA key of %d bits, under %d", k.N.BitLen(), MinRSABits)
	}
	return k, nil
}

func curveOf(crv string) elliptic.Curve {
	switch crv {
	case "P-256":
		return elliptic.P256()
	case "P-384":
		return elliptic.P384()
	case "P-521":
		return elliptic.P521()
	}
	return nil
}

// ParsePEM decodes one public key from PEM: a PUBLIC KEY (PKIX), an RSA
// PUBLIC KEY (PKCS #1) or a CERTIFICATE block. id becomes the key's kid
// (it may be empty), alg restricts it to one algorithm (empty: any that
// fits its type).
func ParsePEM(id, alg string, data []byte) (*Key, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("jwks: no PEM block found")
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, errors.New("jwks: more than one PEM block: give one key per entry")
	}
	var pub any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		cert, err = x509.ParseCertificate(block.Bytes)
		if err == nil {
			pub = cert.PublicKey
		}
	default:
		return nil, fmt.Errorf("jwks: PEM block %q is not a public key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < MinRSABits {
			return nil, fmt.Errorf("jwks: RSA key of %d bits, under %d", k.N.BitLen(), MinRSABits)
		}
	case *ecdsa.PublicKey:
		if curveOf(k.Curve.Params().Name) == nil {
			return nil, fmt.Errorf("jwks: unsupported curve %s", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("jwks: unsupported public key type %T", pub)
	}
	if alg != "" && !keyFits(pub, alg) {
		return nil, fmt.Errorf("jwks: algorithm %q does not fit the key", alg)
	}
	return &Key{ID: id, Public: pub, Alg: alg}, nil
}
