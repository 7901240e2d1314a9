package cache

import (
	"encoding/binary"
	"errors"
	"time"
)

// EntryOverhead is the fixed cost in bytes charged for each entry on top
// of its key, header and body: the Entry itself and the cache's own
// bookkeeping for it.
const EntryOverhead = 160

// Entry is one stored response.
//
// Put copies the Entry it is given: the caller may reuse its Header and
// Body buffers as soon as Put returns. The Entry that Get returns is
// shared by every reader and must be treated as read-only; it is never
// changed nor reused, so it stays valid for as long as the caller holds
// it.
type Entry struct {
	// Status is the response's status code.
	Status int
	// Header holds the response's headers as "Name: value\r\n" lines, as
	// the gateway serialized them; the cache does not look inside.
	Header []byte
	// Body is the response's body.
	Body []byte
	// Stored is when the gateway received the response. It tells the age
	// of a copy (Settings.MaxAge, Settings.RefreshAfter).
	Stored time.Time
}

// entrySize is the number of bytes an entry under a key of keyLen bytes
// is charged.
func entrySize(keyLen int, e *Entry) int64 {
	return int64(keyLen) + int64(len(e.Header)) + int64(len(e.Body)) + EntryOverhead
}

// clone returns a copy of e whose header and body share one new buffer.
func (e *Entry) clone() *Entry {
	buf := make([]byte, len(e.Header)+len(e.Body))
	n := copy(buf, e.Header)
	copy(buf[n:], e.Body)
	return &Entry{Status: e.Status, Header: buf[:n:n], Body: buf[n:], Stored: e.Stored}
}

// The binary form of an entry in Redis:
//
//	version   1 byte (encodingV1)
//	status    2 bytes, big endian
//	stored    8 bytes, Unix nanoseconds, big endian; 0 for the zero time
//	header    uvarint length, then the bytes
//	body      the rest
const (
	encodingV1  = 1
	fixedPrefix = 1 + 2 + 8
)

// ErrCorrupt is returned for a stored value that is not an entry of this
// package's encoding (another writer under the same prefix, or an older
// version).
var ErrCorrupt = errors.New("cache: stored value is not a cache entry; check that no one else writes under the prefix")

// appendEncoded appends the binary form of e to dst.
func appendEncoded(dst []byte, e *Entry) []byte {
	var stored int64
	if !e.Stored.IsZero() {
		stored = e.Stored.UnixNano()
	}
	dst = append(dst, encodingV1)
	dst = binary.BigEndian.AppendUint16(dst, uint16(e.Status))
	dst = binary.BigEndian.AppendUint64(dst, uint64(stored))
	dst = binary.AppendUvarint(dst, uint64(len(e.Header)))
	dst = append(dst, e.Header...)
	return append(dst, e.Body...)
}

// encodedLen is the length of e's binary form.
func encodedLen(e *Entry) int {
	var tmp [binary.MaxVarintLen64]byte
	return fixedPrefix + binary.PutUvarint(tmp[:], uint64(len(e.Header))) + len(e.Header) + len(e.Body)
}

// decode parses b, which the returned Entry then owns: its Header and
// Body are slices of b.
func decode(b []byte) (*Entry, error) {
	if len(b) < fixedPrefix || b[0] != encodingV1 {
		return nil, ErrCorrupt
	}
	e := &Entry{Status: int(binary.BigEndian.Uint16(b[1:3]))}
	if ns := int64(binary.BigEndian.Uint64(b[3:11])); ns != 0 {
		e.Stored = time.Unix(0, ns)
	}
	hlen, n := binary.Uvarint(b[fixedPrefix:])
	if n <= 0 || hlen > uint64(len(b)-fixedPrefix-n) {
		return nil, ErrCorrupt
	}
	start := fixedPrefix + n
	end := start + int(hlen)
	e.Header = b[start:end:end]
	e.Body = b[end:]
	return e, nil
}
