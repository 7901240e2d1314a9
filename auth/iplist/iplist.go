package iplist

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// List is a set of CIDRs. It is immutable and safe for concurrent use.
type List struct {
	v4 []range4
	v6 []range6
}

type range4 struct{ lo, hi uint32 }

type range6 struct{ lo, hi u128 }

type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

func (a u128) next() u128 {
	if a.lo == ^uint64(0) {
		return u128{a.hi + 1, 0}
	}
	return u128{a.hi, a.lo + 1}
}

// Parse compiles entries, each a CIDR ("10.0.0.0/8", "2001:db8::/32") or
// a single address ("192.0.2.7"). Every bad entry is reported, by index.
func Parse(entries []string) (*List, error) {
	l := &List{}
	var errs []error
	for i, e := range entries {
		p, err := parseEntry(strings.TrimSpace(e))
		if err != nil {
			errs = append(errs, fmt.Errorf("iplist: entry %d %q: %w", i, e, err))
			continue
		}
		p = p.Masked()
		if p.Addr().Is4() {
			lo := binary.BigEndian.Uint32(p.Addr().AsSlice())
			host := uint32(1)<<(32-p.Bits()) - 1
			if p.Bits() == 0 {
				host = ^uint32(0)
			}
			l.v4 = append(l.v4, range4{lo, lo | host})
			continue
		}
		b := p.Addr().As16()
		lo := u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
		l.v6 = append(l.v6, range6{lo, lastOf(lo, p.Bits())})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	l.v4 = merge4(l.v4)
	l.v6 = merge6(l.v6)
	return l, nil
}

func parseEntry(e string) (netip.Prefix, error) {
	if strings.Contains(e, "/") {
		p, err := netip.ParsePrefix(e)
		if err != nil {
			return p, err
		}
		if p.Addr().Is4In6() {
			return netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0)), nil
		}
		return p, nil
	}
	a, err := netip.ParseAddr(e)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// lastOf returns the last address of the /bits network starting at lo.
func lastOf(lo u128, bits int) u128 {
	switch {
	case bits == 0:
		return u128{^uint64(0), ^uint64(0)}
	case bits <= 64:
		return u128{lo.hi | (^uint64(0) >> bits), ^uint64(0)}
	case bits == 128:
		return lo
	default:
		return u128{lo.hi, lo.lo | (^uint64(0) >> (bits - 64))}
	}
}

func merge4(rs []range4) []range4 {
	slices.SortFunc(rs, func(a, b range4) int {
		switch {
		case a.lo < b.lo:
			return -1
		case a.lo > b.lo:
			return 1
		}
		return 0
	})
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && (r.lo <= out[n-1].hi || r.lo == out[n-1].hi+1) {
			if r.hi > out[n-1].hi {
				out[n-1].hi = r.hi
			}
			continue
		}
		out = append(out, r)
	}
	return slices.Clip(out)
}

func merge6(rs []range6) []range6 {
	slices.SortFunc(rs, func(a, b range6) int {
		switch {
		case a.lo.less(b.lo):
			return -1
		case b.lo.less(a.lo):
			return 1
		}
		return 0
	})
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && (!out[n-1].hi.less(r.lo) || out[n-1].hi.next() == r.lo) {
			if out[n-1].hi.less(r.hi) {
				out[n-1].hi = r.hi
			}
			continue
		}
		out = append(out, r)
	}
	return slices.Clip(out)
}

// Len returns the number of merged ranges (for tests and logs).
func (l *List) Len() int { return len(l.v4) + len(l.v6) }

// Contains reports whether addr is in the list. It does not allocate.
func (l *List) Contains(addr netip.Addr) bool {
	if l == nil || !addr.IsValid() {
		return false
	}
	addr = addr.Unmap()
	if addr.Is4() {
		b := addr.As4()
		x := binary.BigEndian.Uint32(b[:])
		rs := l.v4
		i, j := 0, len(rs) // first range with lo > x
		for i < j {
			h := int(uint(i+j) >> 1)
			if rs[h].lo <= x {
				i = h + 1
			} else {
				j = h
			}
		}
		return i > 0 && x <= rs[i-1].hi
	}
	b := addr.As16()
	x := u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
	rs := l.v6
	i, j := 0, len(rs)
	for i < j {
		h := int(uint(i+j) >> 1)
		if !x.less(rs[h].lo) {
			i = h + 1
		} else {
			j = h
		}
	}
	return i > 0 && !rs[i-1].hi.less(x)
}

// Access combines an allow list and a deny list. It is immutable and safe
// for concurrent use.
type Access struct {
	allow, deny *List
}

// NewAccess compiles the lists; either may be empty.
func NewAccess(allow, deny []string) (*Access, error) {
	a, errA := Parse(allow)
	d, errD := Parse(deny)
	if err := errors.Join(errA, errD); err != nil {
		return nil, err
	}
	return &Access{allow: a, deny: d}, nil
}

// Allowed reports whether addr may pass: never when the deny list holds
// it (deny wins), else when the allow list is empty or holds it. An
// invalid address (no client address known) passes only when there is no
// allow list and no deny list. It does not allocate.
func (a *Access) Allowed(addr netip.Addr) bool {
	if !addr.IsValid() {
		return a.allow.Len() == 0 && a.deny.Len() == 0
	}
	if a.deny.Contains(addr) {
		return false
	}
	return a.allow.Len() == 0 || a.allow.Contains(addr)
}
