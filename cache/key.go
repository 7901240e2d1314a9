package cache

import "encoding/binary"

// AppendKey appends to dst the cache key of a request and returns the
// extended slice. Each part goes in with its length in front, so no two
// different requests share a key whatever bytes their parts hold; the
// host is lower-cased. vary holds the values of the request headers that
// the response's Vary names, in the order Vary names them (a response
// with Vary: * should not be stored). With room in dst it allocates
// nothing; the key is binary and meant for Memory, Redis and Tiered only.
func AppendKey(dst, method, host, path, query []byte, vary ...[]byte) []byte {
	dst = appendPart(dst, method)
	dst = binary.AppendUvarint(dst, uint64(len(host)))
	n := len(dst)
	dst = append(dst, host...)
	for i, c := range dst[n:] {
		if 'A' <= c && c <= 'Z' {
			dst[n+i] = c + 'a' - 'A'
		}
	}
	dst = appendPart(dst, path)
	dst = appendPart(dst, query)
	for _, v := range vary {
		dst = appendPart(dst, v)
	}
	return dst
}

func appendPart(dst, part []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(part)))
	return append(dst, part...)
}
