package gateway

import (
	"maps"
	"slices"

	"github.com/valyala/fasthttp"
)

// headerOps are a route's compiled request or response header changes.
type headerOps struct {
	set    []headerKV
	remove []string
}

type headerKV struct {
	key   string
	value []byte
}

func (o *headerOps) applyRequest(h *fasthttp.RequestHeader) {
	for _, k := range o.remove {
		h.Del(k)
	}
	for i := range o.set {
		h.SetBytesV(o.set[i].key, o.set[i].value)
	}
}

func (o *headerOps) applyResponse(h *fasthttp.ResponseHeader) {
	for _, k := range o.remove {
		h.Del(k)
	}
	for i := range o.set {
		h.SetBytesV(o.set[i].key, o.set[i].value)
	}
}

func newHeaderOps(set map[string]string, remove []string) headerOps {
	o := headerOps{remove: append([]string(nil), remove...)}
	for _, k := range slices.Sorted(maps.Keys(set)) {
		o.set = append(o.set, headerKV{key: k, value: []byte(set[k])})
	}
	return o
}
