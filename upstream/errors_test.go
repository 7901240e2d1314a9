package upstream

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestKindOf(t *testing.T) {
	tests := []struct {
		desc string
		give error
		want Kind
	}{
		{desc: "nil", give: nil, want: None},
		{desc: "connect", give: ErrConnect, want: Connect},
		{desc: "timeout", give: ErrTimeout, want: Timeout},
		{desc: "reset", give: ErrReset, want: Reset},
		{desc: "protocol", give: ErrProtocol, want: Protocol},
		{desc: "pool exhausted", give: ErrPoolExhausted, want: PoolExhausted},
		{desc: "closed", give: ErrClosed, want: Other},
		{desc: "request", give: ErrRequest, want: Request},
		{desc: "wrapped", give: fmt.Errorf("route users: %w", ErrReset), want: Reset},
		{desc: "joined", give: errors.Join(io.EOF, ErrConnect), want: Connect},
		{desc: "joined without ours", give: errors.Join(io.EOF, io.ErrClosedPipe), want: Other},
		{desc: "other timeout", give: fmt.Errorf("x: %w", os.ErrDeadlineExceeded), want: Timeout},
		{desc: "foreign", give: io.EOF, want: Other},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := KindOf(tt.give); got != tt.want {
				t.Errorf("KindOf(%v) = %v, want %v", tt.give, got, tt.want)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	tests := []struct {
		give Kind
		want string
	}{
		{None, "none"}, {Connect, "connect"}, {Timeout, "timeout"}, {Reset, "reset"},
		{Protocol, "protocol"}, {PoolExhausted, "pool_exhausted"}, {TooLarge, "too_large"}, {Other, "other"}, {Request, "request"}, {Kind(200), "other"},
	}
	for _, tt := range tests {
		if got := tt.give.String(); got != tt.want {
			t.Errorf("Kind(%d).String() = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestSentinels(t *testing.T) {
	for _, err := range []*Error{ErrConnect, ErrTimeout, ErrReset, ErrProtocol, ErrPoolExhausted, ErrClosed, ErrRequest} {
		if !strings.HasPrefix(err.Error(), "upstream: ") {
			t.Errorf("%q lacks the package prefix", err.Error())
		}
		if err.Kind() != KindOf(err) || err.Timeout() != (err.Kind() == Timeout) {
			t.Errorf("%v: inconsistent kind", err)
		}
	}
}

func TestNewSettings(t *testing.T) {
	tests := []struct {
		desc    string
		give    Settings
		want    Settings // after defaults
		wantErr string
	}{
		{
			desc: "defaults",
			give: Settings{Addr: "127.0.0.1:80"},
			want: Settings{
				Addr: "127.0.0.1:80", MaxConns: 512, MaxIdleConns: 512, ConnectTimeout: 5 * time.Second,
				ReadTimeout: time.Minute, WriteTimeout: time.Minute, IdleTimeout: time.Minute,
				MaxBufferedBody: 64 << 10, MaxResponseHeaderBytes: 16 << 10,
			},
		},
		{
			desc: "idle capped by max",
			give: Settings{Addr: "h:1", MaxConns: 4, MaxIdleConns: 10, MaxBufferedBody: -1},
			want: Settings{
				Addr: "h:1", MaxConns: 4, MaxIdleConns: 4, ConnectTimeout: 5 * time.Second,
				ReadTimeout: time.Minute, WriteTimeout: time.Minute, IdleTimeout: time.Minute,
				MaxBufferedBody: -1, MaxResponseHeaderBytes: 16 << 10,
			},
		},
		{desc: "no addr", give: Settings{}, wantErr: "upstream: Addr: required"},
		{desc: "no port", give: Settings{Addr: "localhost"}, wantErr: "upstream: Addr: must be host:port"},
		{desc: "negative", give: Settings{Addr: "h:1", MaxConns: -1, ReadTimeout: -1}, wantErr: "upstream: MaxConns: must be >= 0\nupstream: ReadTimeout: must be >= 0"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			c, err := New(tt.give)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("New: got error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.s != tt.want {
				t.Errorf("settings = %+v, want %+v", c.s, tt.want)
			}
		})
	}
}
