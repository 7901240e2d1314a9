package gateway

import (
	"github.com/fastgate/gateway/internal/httpx"
	"github.com/fastgate/gateway/metrics"
)

// clientErrorKind is the gateway_client_errors_total kind of a failure
// of the client's body (httpx.LimitedBody.Failure).
func clientErrorKind(err error) metrics.ClientErrorKind {
	switch err {
	case httpx.ErrRequestTimeout:
		return metrics.ClientTimeout
	case httpx.ErrClientClosed:
		return metrics.ClientDisconnect
	}
	return metrics.ClientMalformed
}
