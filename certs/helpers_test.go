package certs_test

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

// pemConvertToSEC1 rewrites a PKCS #8 ECDSA key as an "EC PRIVATE KEY".
func pemConvertToSEC1(t testing.TB, pkcs8 []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(pkcs8)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}
