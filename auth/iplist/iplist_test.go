package iplist

import (
	"net/netip"
	"strings"
	"testing"
)

func TestContains(t *testing.T) {
	l, err := Parse([]string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1", "198.51.100.0/25", "198.51.100.128/25", "203.0.113.9/24", "::ffff:172.16.0.0/108"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		give string
		want bool
	}{
		{"10.0.0.0", true},
		{"10.255.255.255", true},
		{"11.0.0.0", false},
		{"9.255.255.255", false},
		{"192.0.2.7", true},
		{"192.0.2.8", false},
		{"198.51.100.0", true},
		{"198.51.100.200", true},
		{"198.51.101.0", false},
		{"203.0.113.200", true}, // a CIDR with host bits is its network
		{"172.16.5.5", true},    // given as IPv4-mapped
		{"172.32.0.0", false},
		{"::ffff:10.1.2.3", true}, // IPv4-mapped client address
		{"2001:db8:ffff::1", true},
		{"2001:db9::", false},
		{"::1", true},
		{"::2", false},
		{"fe80::1", false},
	} {
		t.Run(tt.give, func(t *testing.T) {
			if got := l.Contains(netip.MustParseAddr(tt.give)); got != tt.want {
				t.Fatalf("Contains(%s) = %v, want %v", tt.give, got, tt.want)
			}
		})
	}
	if l.Contains(netip.Addr{}) {
		t.Fatal("Contains of the zero address is true")
	}
}

func TestMergesRanges(t *testing.T) {
	l, err := Parse([]string{"198.51.100.0/25", "198.51.100.128/25", "198.51.100.7", "0.0.0.0/0", "::/0", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 2 {
		t.Fatalf("Len = %d, want 2 (everything v4, everything v6)", l.Len())
	}
	if !l.Contains(netip.MustParseAddr("255.255.255.255")) || !l.Contains(netip.MustParseAddr("ffff::1")) {
		t.Fatal("the whole-space ranges do not hold their last addresses")
	}
}

func TestParseRefusesBadEntries(t *testing.T) {
	_, err := Parse([]string{"10.0.0.0/8", "10.0.0.0/33", "example.com", "", "1.2.3"})
	if err == nil {
		t.Fatal("Parse accepted bad entries")
	}
	for _, want := range []string{"entry 1", "entry 2", "entry 3", "entry 4"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestAccess(t *testing.T) {
	for _, tt := range []struct {
		desc        string
		allow, deny []string
		give        string
		want        bool
	}{
		{desc: "no lists", give: "203.0.113.1", want: true},
		{desc: "allowed", allow: []string{"10.0.0.0/8"}, give: "10.1.1.1", want: true},
		{desc: "not in the allow list", allow: []string{"10.0.0.0/8"}, give: "11.1.1.1"},
		{desc: "denied", deny: []string{"10.0.0.0/8"}, give: "10.1.1.1"},
		{desc: "not denied", deny: []string{"10.0.0.0/8"}, give: "11.1.1.1", want: true},
		{desc: "deny wins", allow: []string{"10.0.0.0/8"}, deny: []string{"10.9.0.0/16"}, give: "10.9.1.1"},
		{desc: "unknown address, allow list", allow: []string{"10.0.0.0/8"}, give: ""},
		{desc: "unknown address, deny list", deny: []string{"10.0.0.0/8"}, give: ""},
		{desc: "unknown address, no lists", give: "", want: true},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			a, err := NewAccess(tt.allow, tt.deny)
			if err != nil {
				t.Fatal(err)
			}
			var addr netip.Addr
			if tt.give != "" {
				addr = netip.MustParseAddr(tt.give)
			}
			if got := a.Allowed(addr); got != tt.want {
				t.Fatalf("Allowed(%s) = %v, want %v", tt.give, got, tt.want)
			}
		})
	}
}

// TestContainsMatchesALinearScan checks the compiled ranges against
// netip.Prefix.Contains over many lists and addresses.
func TestContainsMatchesALinearScan(t *testing.T) {
	var entries []string
	var prefixes []netip.Prefix
	for i := 0; i < 200; i++ {
		bits := 8 + (i*7)%25
		a := netip.AddrFrom4([4]byte{byte(i * 37), byte(i * 11), byte(i * 3), byte(i)})
		p := netip.PrefixFrom(a, bits).Masked()
		entries = append(entries, p.String())
		prefixes = append(prefixes, p)
		a6 := netip.AddrFrom16([16]byte{0x20, 0x01, byte(i), byte(i * 5), 15: byte(i)})
		p6 := netip.PrefixFrom(a6, 16+(i*13)%113).Masked()
		entries = append(entries, p6.String())
		prefixes = append(prefixes, p6)
	}
	l, err := Parse(entries)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20000; i++ {
		x := uint32(i) * 2654435761
		addrs := []netip.Addr{
			netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)}),
			netip.AddrFrom16([16]byte{0x20, 0x01, byte(x >> 24), byte(x >> 16), 15: byte(x)}),
		}
		for _, a := range addrs {
			want := false
			for _, p := range prefixes {
				if p.Contains(a) {
					want = true
					break
				}
			}
			if got := l.Contains(a); got != want {
				t.Fatalf("Contains(%s) = %v, a linear scan says %v (%d ranges)", a, got, want, l.Len())
			}
		}
	}
}
