// Command demo-token mints JSON Web Tokens for trying the gateway's JWT
// access control (docs/auth.md, configs/auth.yaml). It signs with a fixed
// ES256 demo key whose public half configs/auth.yaml trusts as the
// provider "demo". The key is public, in this file: never trust it
// outside a demo.
//
//	demo-token -sub alice -claim scope=read      # prints a token
//	demo-token -public                           # prints the public key
package main

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// demoKey is the private demo key (PKCS #8, P-256). Public on purpose.
const demoKey = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg+sinN09aAt3KPiJt
qUswWWVz79i/OUhHyUQzJ0r8a8WhRANCAARLslZsz52rcNwPcrtRs13YPKAJuftr
EGhCSx5O2H0JVn818hYHDDdh0CY0OmvCSOhwGZ0+Dg3gkxgrXjIcsKEP
-----END PRIVATE KEY-----
`

// claimFlags collects -claim NAME=VALUE.
type claimFlags map[string]string

func (c claimFlags) String() string { return "" }

func (c claimFlags) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", s)
	}
	c[name] = value
	return nil
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, time.Now())) }

func run(args []string, stdout, stderr io.Writer, now time.Time) int {
	fs := flag.NewFlagSet("demo-token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sub := fs.String("sub", "alice", "the subject (sub)")
	iss := fs.String("iss", "https://demo.local", "the issuer (iss)")
	aud := fs.String("aud", "api", "the audience (aud)")
	kid := fs.String("kid", "demo", "the key id in the token's header")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid; negative mints an expired one")
	public := fs.Bool("public", false, "print the demo public key (PEM) instead of a token")
	claims := claimFlags{}
	fs.Var(claims, "claim", "another claim, NAME=VALUE (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	block, _ := pem.Decode([]byte(demoKey))
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		fmt.Fprintln(stderr, "demo-token:", err)
		return 1
	}
	if *public {
		pub := priv.(crypto.Signer).Public()
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			fmt.Fprintln(stderr, "demo-token:", err)
			return 1
		}
		_ = pem.Encode(stdout, &pem.Block{Type: "PUBLIC KEY", Bytes: der})
		return 0
	}
	body := map[string]any{"iss": *iss, "sub": *sub, "aud": *aud, "iat": now.Unix(), "exp": now.Add(*ttl).Unix()}
	for k, v := range claims {
		body[k] = v
	}
	payload, err := json.Marshal(body)
	if err != nil {
		fmt.Fprintln(stderr, "demo-token:", err)
		return 1
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: priv},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", *kid))
	if err != nil {
		fmt.Fprintln(stderr, "demo-token:", err)
		return 1
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		fmt.Fprintln(stderr, "demo-token:", err)
		return 1
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		fmt.Fprintln(stderr, "demo-token:", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
}
