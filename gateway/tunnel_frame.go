package gateway

// The gateway pipes a tunnel's bytes without decoding messages, but it
// must be able to end a tunnel with a close frame of its own, and a frame
// written into the middle of another would corrupt the stream. So the
// upstream-to-client direction, the one the gateway writes into, follows
// frame headers (RFC 6455 section 5.2) and skips payloads by length: it
// always knows whether the bytes written so far end at a frame boundary.
// Control frames may come between the frames of a fragmented message, so
// a frame boundary is enough. The client-to-upstream direction is not
// followed: the gateway never writes into it.

// frameScanner follows the frames of one direction of a tunnel.
type frameScanner struct {
	hdr  [14]byte // the header of the frame being read, as far as seen
	nhdr int      // bytes of hdr seen; 0 between frames
	left uint64   // payload bytes of the current frame still to come
	// closed is set once a close frame's header went by.
	closed bool
}

// atBoundary reports whether the bytes scanned so far end a frame.
func (s *frameScanner) atBoundary() bool { return s.nhdr == 0 && s.left == 0 }

// scan follows p, which comes right after what was scanned before. With
// stop set it stops at the first frame boundary it reaches and returns
// how many bytes of p come before it (0 when the scanner already is at a
// boundary); else it follows all of p and returns len(p).
func (s *frameScanner) scan(p []byte, stop bool) int {
	i := 0
	for {
		if stop && s.atBoundary() {
			return i
		}
		if i == len(p) {
			return i
		}
		if s.left > 0 {
			n := uint64(len(p) - i)
			if n > s.left {
				n = s.left
			}
			s.left -= n
			i += int(n)
			continue
		}
		// Within a header: take bytes until it is whole.
		s.hdr[s.nhdr] = p[i]
		s.nhdr++
		i++
		if need := headerLen(s.hdr[:s.nhdr]); s.nhdr == need {
			s.left = payloadLen(s.hdr[:need])
			s.nhdr = 0
			if s.hdr[0]&0x0f == opClose {
				s.closed = true
			}
		}
	}
}

// opClose is the opcode of a close frame.
const opClose = 0x8

// headerLen is the length of the frame header that starts with h, as far
// as h tells: 2 until the second byte is known.
func headerLen(h []byte) int {
	if len(h) < 2 {
		return 2
	}
	n := 2
	switch h[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if h[1]&0x80 != 0 { // masked
		n += 4
	}
	return n
}

// payloadLen is the payload length a whole frame header h declares.
func payloadLen(h []byte) uint64 {
	switch l := h[1] & 0x7f; l {
	case 126:
		return uint64(h[2])<<8 | uint64(h[3])
	case 127:
		var n uint64
		for _, b := range h[2:10] {
			n = n<<8 | uint64(b)
		}
		return n
	default:
		return uint64(l)
	}
}

// closeFrame is a server's close frame (FIN, opcode 8, unmasked) with
// status 1001 (going away) and a short reason.
func closeFrame(reason string) []byte {
	f := make([]byte, 0, 4+len(reason))
	f = append(f, 0x88, byte(2+len(reason)), 0x03, 0xe9)
	return append(f, reason...)
}

// The close frames the gateway writes, by why it closes the tunnel.
var (
	frameIdle     = closeFrame("idle timeout")
	frameLifetime = closeFrame("max lifetime reached")
	frameReload   = closeFrame("route reloaded")
	frameShutdown = closeFrame("gateway shutting down")
)
