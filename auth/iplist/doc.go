// Package iplist holds IP allow and deny lists of CIDRs, checked against
// the client address that the gateway's trusted_proxies rule yields.
//
// A list is compiled into sorted, merged address ranges, one slice for
// IPv4 and one for IPv6, so Contains is a binary search that does not
// allocate, whatever the length of the list. IPv4-mapped IPv6 addresses
// (::ffff:10.0.0.1) are checked as the IPv4 address they carry.
package iplist
