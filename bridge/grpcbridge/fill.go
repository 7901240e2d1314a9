package grpcbridge

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// maxIndexedMessages bounds the message types a fieldIndex holds; fields
// of types beyond it are looked up without the index.
const maxIndexedMessages = 1024

// fieldIndex finds a field by its proto or JSON name, per message type,
// with a lookup that does not allocate for a []byte name.
type fieldIndex map[protoreflect.FullName]map[string]protoreflect.FieldDescriptor

// newFieldIndex indexes md and every message type reachable from it.
func newFieldIndex(md protoreflect.MessageDescriptor) fieldIndex {
	idx := make(fieldIndex)
	var walk func(protoreflect.MessageDescriptor)
	walk = func(md protoreflect.MessageDescriptor) {
		if _, done := idx[md.FullName()]; done || len(idx) >= maxIndexedMessages {
			return
		}
		byName := make(map[string]protoreflect.FieldDescriptor)
		idx[md.FullName()] = byName
		fields := md.Fields()
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			byName[string(fd.Name())] = fd
			if _, taken := byName[fd.JSONName()]; !taken {
				byName[fd.JSONName()] = fd
			}
			if fd.Message() != nil && !fd.IsMap() {
				walk(fd.Message())
			}
		}
	}
	walk(md)
	return idx
}

// field returns md's field of the proto or JSON name, or nil.
func field[S string | []byte](idx fieldIndex, md protoreflect.MessageDescriptor, name S) protoreflect.FieldDescriptor {
	if byName, ok := idx[md.FullName()]; ok {
		return byName[string(name)]
	}
	fields := md.Fields()
	if fd := fields.ByName(protoreflect.Name(name)); fd != nil {
		return fd
	}
	return fields.ByJSONName(string(name))
}

// setPath sets (or appends to, when repeated) the field that the dotted
// name reaches from msg. skipUnknown ignores a name the message lacks.
func setPath[S string | []byte](e *Endpoint, msg protoreflect.Message, name S, value []byte, skipUnknown bool) *RequestError {
	cur := msg
	rest := name
	for depth := 0; ; depth++ {
		seg := rest
		dot := -1
		for i := 0; i < len(rest); i++ {
			if rest[i] == '.' {
				dot = i
				break
			}
		}
		if dot >= 0 {
			seg = rest[:dot]
		}
		fd := field(e.fields, cur.Descriptor(), seg)
		if fd == nil {
			if skipUnknown {
				return nil
			}
			return &RequestError{Field: string(name), Reason: "unknown field " + strconv.Quote(string(seg)) + " in " + string(cur.Descriptor().FullName())}
		}
		if dot < 0 {
			return setField(cur, fd, string(name), value)
		}
		if fd.Message() == nil || fd.IsList() || fd.IsMap() {
			return &RequestError{Field: string(name), Reason: string(fd.Name()) + " is not a message field; it has no field " + strconv.Quote(string(rest[dot+1:]))}
		}
		cur = cur.Mutable(fd).Message()
		rest = rest[dot+1:]
	}
}

// setField sets or appends one value of fd, parsed from text.
func setField(m protoreflect.Message, fd protoreflect.FieldDescriptor, path string, text []byte) *RequestError {
	if fd.IsMap() {
		return &RequestError{Field: path, Reason: "a map field cannot be set from the path or query; send it in the body"}
	}
	var v protoreflect.Value
	if fd.Message() != nil {
		var sub protoreflect.Message
		if fd.IsList() {
			sub = m.Mutable(fd).List().NewElement().Message()
		} else {
			sub = m.NewField(fd).Message()
		}
		if re := setMessage(sub, path, text); re != nil {
			return re
		}
		v = protoreflect.ValueOfMessage(sub)
	} else {
		var re *RequestError
		if v, re = scalar(fd, path, text); re != nil {
			return re
		}
	}
	if fd.IsList() {
		m.Mutable(fd).List().Append(v)
	} else {
		m.Set(fd, v)
	}
	return nil
}

// setMessage fills a well-known message from one text value: a wrapper
// (google.protobuf.Int32Value...) from its value, a Timestamp, Duration
// or FieldMask from its JSON string form.
func setMessage(sub protoreflect.Message, path string, text []byte) *RequestError {
	md := sub.Descriptor()
	name := md.FullName()
	if !settableMessage(name) {
		return &RequestError{Field: path, Reason: "a message field (" + string(name) + ") cannot take one value; set its fields (" + path + ".<field>) or send it in the body"}
	}
	switch name.Name() {
	case "DoubleValue", "FloatValue", "Int64Value", "UInt64Value", "Int32Value", "UInt32Value", "BoolValue", "StringValue", "BytesValue":
		fd := md.Fields().ByNumber(1)
		v, re := scalar(fd, path, text)
		if re != nil {
			return re
		}
		sub.Set(fd, v)
		return nil
	default: // Timestamp, Duration, FieldMask
		quoted, _ := json.Marshal(string(text))
		if err := protojson.Unmarshal(quoted, sub.Interface()); err != nil {
			msg := strings.TrimLeft(strings.TrimPrefix(err.Error(), "proto:"), " \u00a0")
			return &RequestError{Field: path, Reason: "invalid " + string(name.Name()) + " " + strconv.Quote(string(text)) + ": " + msg}
		}
		return nil
	}
}

// settableMessage reports whether a message type takes one path or query
// value: the wrappers, Timestamp, Duration and FieldMask.
func settableMessage(name protoreflect.FullName) bool {
	if name.Parent() != "google.protobuf" {
		return false
	}
	switch name.Name() {
	case "DoubleValue", "FloatValue", "Int64Value", "UInt64Value", "Int32Value", "UInt32Value", "BoolValue", "StringValue", "BytesValue",
		"Timestamp", "Duration", "FieldMask":
		return true
	}
	return false
}

// scalar parses text as a value of fd's kind, as google.api.http does
// for path and query values: numbers in decimal, enums by name or
// number, bytes in base64 (standard or URL-safe, padded or not).
func scalar(fd protoreflect.FieldDescriptor, path string, text []byte) (protoreflect.Value, *RequestError) {
	bad := func(why string) (protoreflect.Value, *RequestError) {
		return protoreflect.Value{}, &RequestError{Field: path, Reason: "invalid value for " + fd.Kind().String() + " field: " + strconv.Quote(string(text)) + why}
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		if !utf8.Valid(text) {
			return bad(" (not UTF-8)")
		}
		return protoreflect.ValueOfString(string(text)), nil
	case protoreflect.BytesKind:
		b, err := decodeBase64(text)
		if err != nil {
			return bad(" (want base64)")
		}
		return protoreflect.ValueOfBytes(b), nil
	case protoreflect.BoolKind:
		switch string(text) {
		case "true", "1":
			return protoreflect.ValueOfBool(true), nil
		case "false", "0":
			return protoreflect.ValueOfBool(false), nil
		}
		return bad("")
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByName(protoreflect.Name(text)); ev != nil {
			return protoreflect.ValueOfEnum(ev.Number()), nil
		}
		n, err := strconv.ParseInt(string(text), 10, 32)
		if err != nil || (fd.Enum().IsClosed() && fd.Enum().Values().ByNumber(protoreflect.EnumNumber(n)) == nil) {
			return bad(" (not a value of " + string(fd.Enum().FullName()) + ")")
		}
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(string(text), 10, 32)
		if err != nil {
			return bad("")
		}
		return protoreflect.ValueOfInt32(int32(n)), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(string(text), 10, 64)
		if err != nil {
			return bad("")
		}
		return protoreflect.ValueOfInt64(n), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(string(text), 10, 32)
		if err != nil {
			return bad("")
		}
		return protoreflect.ValueOfUint32(uint32(n)), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(string(text), 10, 64)
		if err != nil {
			return bad("")
		}
		return protoreflect.ValueOfUint64(n), nil
	case protoreflect.FloatKind:
		f, err := strconv.ParseFloat(string(text), 32)
		if err != nil {
			return bad("")
		}
		return protoreflect.ValueOfFloat32(float32(f)), nil
	case protoreflect.DoubleKind:
		f, err := strconv.ParseFloat(string(text), 64)
		if err != nil {
			return bad("")
		}
		return protoreflect.ValueOfFloat64(f), nil
	}
	return bad(" (kind not supported in the path or query)")
}

// base64Std is the standard base64 of s.
func base64Std(s string) string {
	return base64.StdEncoding.EncodeToString([]byte(s))
}

// decodeBase64 reads standard or URL-safe base64, padded or not.
func decodeBase64(text []byte) ([]byte, error) {
	enc := base64.StdEncoding
	if strings.ContainsAny(string(text), "-_") {
		enc = base64.URLEncoding
	}
	if len(text)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	out := make([]byte, enc.DecodedLen(len(text)))
	n, err := enc.Decode(out, text)
	return out[:n], err
}
