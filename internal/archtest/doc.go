// Package archtest holds the test that keeps the package import directions
// of docs/design.md: leaf packages never import gateway, config or each other,
// and each imports only the third-party modules of its job. It also holds
// that each package is named as its directory.
package archtest
