package grpcbridge

import (
	"fmt"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// HTTPRule is one HTTP binding of a method from its google.api.http
// annotation; each additional_bindings entry is a rule of its own.
type HTTPRule struct {
	// Method is "pkg.Service/Method", for Schema.Method.
	Method string
	// Verb is GET, PUT, POST, DELETE, PATCH, or a custom rule's kind.
	Verb string
	// Path is the path template, e.g. "/v1/users/{id}" or
	// "/v1/{name=shelves/*}".
	Path string
	// Body is the annotation's body: "" (no body), "*" (the whole request
	// message) or a top-level field, for EndpointSettings.BodyField.
	Body string
	// ResponseBody is the annotation's response_body, "" for the whole
	// answer. The bridge answers with the whole message either way.
	ResponseBody string
}

// httpExt resolves the google.api.http extension only.
var httpExt = func() *protoregistry.Types {
	var t protoregistry.Types
	if err := t.RegisterExtension(annotations.E_Http); err != nil {
		panic(err) // a fresh registry takes one extension
	}
	return &t
}()

// maxBindings bounds the additional bindings read from one method.
const maxBindings = 64

// HTTPRules returns the HTTP bindings of the methods of service (full
// name, "pkg.Service") from their google.api.http annotations, in method
// order; methods without one are left out, and so are client-streaming
// methods, which the bridge does not serve.
func (s *Schema) HTTPRules(service string) ([]HTTPRule, error) {
	d, err := s.files.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		return nil, fmt.Errorf("grpcbridge: service %s is not in the schema", service)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("grpcbridge: %s is not a service", service)
	}
	var out []HTTPRule
	methods := sd.Methods()
	for i := 0; i < methods.Len(); i++ {
		md := methods.Get(i)
		if md.IsStreamingClient() {
			continue
		}
		rule, err := httpRule(md)
		if err != nil {
			return nil, err
		}
		if rule == nil {
			continue
		}
		name := service + "/" + string(md.Name())
		rules := append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...)
		if len(rules) > maxBindings {
			return nil, fmt.Errorf("grpcbridge: %s has more than %d HTTP bindings", name, maxBindings)
		}
		for _, r := range rules {
			h := HTTPRule{Method: name, Body: r.GetBody(), ResponseBody: r.GetResponseBody()}
			switch p := r.GetPattern().(type) {
			case *annotations.HttpRule_Get:
				h.Verb, h.Path = "GET", p.Get
			case *annotations.HttpRule_Put:
				h.Verb, h.Path = "PUT", p.Put
			case *annotations.HttpRule_Post:
				h.Verb, h.Path = "POST", p.Post
			case *annotations.HttpRule_Delete:
				h.Verb, h.Path = "DELETE", p.Delete
			case *annotations.HttpRule_Patch:
				h.Verb, h.Path = "PATCH", p.Patch
			case *annotations.HttpRule_Custom:
				h.Verb, h.Path = p.Custom.GetKind(), p.Custom.GetPath()
			default:
				return nil, fmt.Errorf("grpcbridge: %s: an HTTP binding without a verb and path", name)
			}
			out = append(out, h)
		}
	}
	return out, nil
}

// httpRule reads md's google.api.http option, or nil. The options are
// decoded again with the extension known, whatever registry read them.
func httpRule(md protoreflect.MethodDescriptor) (*annotations.HttpRule, error) {
	opts, ok := md.Options().(*descriptorpb.MethodOptions)
	if !ok || opts == nil {
		return nil, nil
	}
	b, err := proto.Marshal(opts)
	if err != nil {
		return nil, fmt.Errorf("grpcbridge: options of %s: %w", md.FullName(), err)
	}
	var o descriptorpb.MethodOptions
	if err := (proto.UnmarshalOptions{Resolver: httpExt}).Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("grpcbridge: options of %s: %w", md.FullName(), err)
	}
	if !proto.HasExtension(&o, annotations.E_Http) {
		return nil, nil
	}
	rule, _ := proto.GetExtension(&o, annotations.E_Http).(*annotations.HttpRule)
	return rule, nil
}
