package certs_test

import (
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/fastgate/gateway/certs"
	"github.com/fastgate/gateway/certs/certstest"
)

func TestSetSelect(t *testing.T) {
	ca := certstest.NewCA(t, "test CA")
	first := pair(t, ca, "first.example.org")
	api := pair(t, ca, "api.example.com", "API2.example.com")
	wild := pair(t, ca, "*.example.com")
	deep := pair(t, ca, "*.b.example.com")
	apex := pair(t, ca, "example.com")
	dup := pair(t, ca, "api.example.com") // later than api: never chosen for it

	lenient := newSet(t, certs.SetOptions{}, first, api, wild, deep, apex, dup)
	withDefault := newSet(t, certs.SetOptions{Default: apex}, first, api, wild, deep, apex, dup)
	strict := newSet(t, certs.SetOptions{StrictSNI: true}, first, api, wild, deep, apex, dup)
	onlyDeep := newSet(t, certs.SetOptions{StrictSNI: true}, deep)

	tests := []struct {
		desc    string
		set     *certs.Set
		give    string
		want    *certs.Pair
		wantErr error
	}{
		{desc: "exact", set: lenient, give: "api.example.com", want: api},
		{desc: "exact beats wildcard, earlier pair wins a duplicate", set: lenient, give: "api.example.com", want: api},
		{desc: "second name of a pair", set: lenient, give: "api2.example.com", want: api},
		{desc: "case-insensitive", set: lenient, give: "API.Example.COM", want: api},
		{desc: "trailing dot", set: lenient, give: "api.example.com.", want: api},
		{desc: "wildcard covers one label", set: lenient, give: "www.example.com", want: wild},
		{desc: "wildcard, upper case", set: lenient, give: "WWW.EXAMPLE.COM", want: wild},
		{desc: "deeper wildcard", set: lenient, give: "x.b.example.com", want: deep},
		{desc: "wildcard does not cover two labels", set: lenient, give: "x.y.example.com", want: first},
		{desc: "wildcard does not cover its apex", set: onlyDeep, give: "b.example.com", wantErr: certs.ErrUnknownName},
		{desc: "apex exact", set: lenient, give: "example.com", want: apex},
		{desc: "unknown name gets the first pair", set: lenient, give: "nope.test", want: first},
		{desc: "no name gets the first pair", set: lenient, give: "", want: first},
		{desc: "unknown name gets the chosen default", set: withDefault, give: "nope.test", want: apex},
		{desc: "no name gets the chosen default", set: withDefault, give: "", want: apex},
		{desc: "strict: exact", set: strict, give: "api.example.com", want: api},
		{desc: "strict: wildcard", set: strict, give: "www.example.com", want: wild},
		{desc: "strict: unknown name refused", set: strict, give: "nope.test", wantErr: certs.ErrUnknownName},
		{desc: "strict: two labels under a wildcard refused", set: strict, give: "x.y.example.com", wantErr: certs.ErrUnknownName},
		{desc: "strict: no name refused", set: strict, give: "", wantErr: certs.ErrNoSNI},
		{desc: "strict: a lone dot is no name", set: strict, give: ".", wantErr: certs.ErrNoSNI},
		{desc: "strict: leading dot", set: strict, give: ".example.com", wantErr: certs.ErrUnknownName},
		{desc: "strict: over-long name", set: strict, give: string(make([]byte, 300)), wantErr: certs.ErrUnknownName},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got, err := tt.set.Select(tt.give)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Select(%q) error %v, want %v", tt.give, err, tt.wantErr)
			}
			if tt.want != nil && got != &tt.want.Certificate {
				t.Errorf("Select(%q) = %v, want the pair for %v", tt.give, names(got), tt.want.Leaf().DNSNames)
			}
		})
	}
}

func names(c *tls.Certificate) []string {
	if c == nil || c.Leaf == nil {
		return nil
	}
	return c.Leaf.DNSNames
}

func TestNewSetRefuses(t *testing.T) {
	ca := certstest.NewCA(t, "test CA")
	a := pair(t, ca, "a.example.com")
	stranger := pair(t, ca, "b.example.com")
	if _, err := certs.NewSet(nil, certs.SetOptions{}); !errors.Is(err, certs.ErrEmptySet) {
		t.Errorf("no pairs: %v, want ErrEmptySet", err)
	}
	if _, err := certs.NewSet([]*certs.Pair{a}, certs.SetOptions{Default: stranger}); err == nil {
		t.Error("a default that is not one of the pairs was accepted")
	}
	if _, err := certs.NewSet([]*certs.Pair{{}}, certs.SetOptions{}); err == nil {
		t.Error("a pair without a parsed leaf was accepted")
	}
}

func TestExpiry(t *testing.T) {
	ca := certstest.NewCA(t, "test CA")
	end := time.Now().Add(90 * 24 * time.Hour).Truncate(time.Second)
	leaf := ca.Issue(t, certstest.LeafOptions{Names: []string{"a.example.com", "*.a.example.com"}, NotAfter: end})
	certFile, keyFile := leaf.Write(t, t.TempDir(), "a")
	p, err := certs.LoadPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	other := pair(t, ca, "b.example.com")
	store := certs.NewStore(newSet(t, certs.SetOptions{}, p, other))

	got := store.Expiry()
	if len(got) != 2 {
		t.Fatalf("Expiry() has %d entries, want 2", len(got))
	}
	if !got[0].NotAfter.Equal(end) || got[0].CertFile != certFile ||
		len(got[0].Names) != 2 || got[0].Names[0] != "a.example.com" || got[0].Names[1] != "*.a.example.com" {
		t.Errorf("Expiry()[0] = %+v, want names of a, NotAfter %v, file %s", got[0], end, certFile)
	}
	if got[1].Names[0] != "b.example.com" {
		t.Errorf("Expiry()[1] = %+v, want b.example.com", got[1])
	}
	if (&certs.Store{}).Expiry() != nil {
		t.Error("an empty store reports certificates")
	}
}
