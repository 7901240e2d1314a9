package auth

// Reason says why a request was refused, or that it was not. It is meant
// for metrics labels and log lines; the client only ever sees the status
// the caller chooses for it (401 for Missing, Invalid and Expired, 403 for
// Forbidden, 503 for Unavailable).
type Reason uint8

const (
	// Allowed means the credential was accepted.
	Allowed Reason = iota
	// Missing means the request carried no credential.
	Missing
	// Invalid means the credential was malformed, badly signed, or not
	// meant for this gateway (issuer, audience, algorithm).
	Invalid
	// Expired means the credential was genuine but is no longer (or not
	// yet) valid in time.
	Expired
	// Forbidden means the caller is known but lacks what the route
	// requires (a required claim or value).
	Forbidden
	// Unavailable means the credential could not be checked at all: no
	// key set was ever fetched, or the deciding service failed.
	Unavailable
)

var reasonNames = [...]string{
	Allowed:     "allowed",
	Missing:     "missing",
	Invalid:     "invalid",
	Expired:     "expired",
	Forbidden:   "forbidden",
	Unavailable: "error",
}

// String returns the lower-case name used as a metric label: allowed,
// missing, invalid, expired, forbidden or error.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}
