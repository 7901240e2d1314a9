package cache

import (
	"errors"
	"testing"
	"time"
)

func TestEncoding(t *testing.T) {
	tests := []struct {
		desc string
		give *Entry
	}{
		{desc: "header and body", give: newEntry("x", 300, 5000, t0)},
		{desc: "empty", give: &Entry{Status: 204}},
		{desc: "no header", give: newEntry("body", 0, 10, t0.Add(time.Nanosecond))},
		{desc: "time before 1970", give: newEntry("old", 1, 1, time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC))},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			b := appendEncoded(nil, tt.give)
			if len(b) != encodedLen(tt.give) {
				t.Errorf("encoded %d bytes, encodedLen says %d", len(b), encodedLen(tt.give))
			}
			got, err := decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := sameEntry(got, tt.give); diff != "" {
				t.Error(diff)
			}
		})
	}
}

func TestDecodeRejectsCorrupt(t *testing.T) {
	good := appendEncoded(nil, newEntry("x", 10, 10, t0))
	tests := []struct {
		desc string
		give []byte
	}{
		{desc: "empty", give: nil},
		{desc: "short", give: good[:5]},
		{desc: "other version", give: append([]byte{9}, good[1:]...)},
		{desc: "header longer than the value", give: good[:fixedPrefix+5]},
		{desc: "bad varint", give: append(append([]byte(nil), good[:fixedPrefix]...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if _, err := decode(tt.give); !errors.Is(err, ErrCorrupt) {
				t.Errorf("error %v, want ErrCorrupt", err)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(appendEncoded(nil, newEntry("x", 3, 3, t0)))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decode(b)
		if err != nil {
			return
		}
		if again, err := decode(appendEncoded(nil, e)); err != nil || sameEntry(again, e) != "" {
			t.Errorf("re-encoding changed the entry: %v", err)
		}
	})
}
