package configsource

import (
	"errors"
	"strings"
	"testing"
)

func key(name string) string { return "/fleet/versions/3/files/" + name }

// A version loads as files do: includes and globs between its files, and
// errors that name the key of the file and the line and column in it.
func TestVersionLoad(t *testing.T) {
	tests := []struct {
		desc    string
		give    map[string]string
		wantErr []string
		routes  int
	}{
		{
			desc: "includes and globs between the files",
			give: map[string]string{
				"gateway.yaml":      "include: [routes.d/*.yaml]\nroutes:\n  - { name: a, match: { path: /a }, respond: { body: a } }\n",
				"routes.d/b.yaml":   "routes:\n  - { name: b, match: { path: /b }, respond: { body: b } }\n",
				"routes.d/c.yaml":   "routes:\n  - { name: c, match: { path: /c }, respond: { body: c } }\n",
				"routes.d/.hidden":  "not yaml",
				"notes/readme.yaml": "routes: []\n",
			},
			routes: 3,
		},
		{
			desc: "an error in an included file names its key",
			give: map[string]string{
				"gateway.yaml":    "include: [routes.d/*.yaml]\nroutes: []\n",
				"routes.d/b.yaml": "routes:\n  - name: b\n    match: { path: /b }\n    respond: { status: 999 }\n",
			},
			wantErr: []string{"/fleet/versions/3/files/routes.d/b.yaml:4:"},
		},
		{
			desc:    "no main file",
			give:    map[string]string{"routes.yaml": "routes: []\n"},
			wantErr: []string{"/fleet/versions/3/files/gateway.yaml"},
		},
		{
			desc:    "a name that climbs out",
			give:    map[string]string{"gateway.yaml": "routes: []\n", "../x.yaml": "routes: []\n"},
			wantErr: []string{`"../x.yaml"`},
		},
		{
			desc:    "an include outside the version",
			give:    map[string]string{"gateway.yaml": "include: [/etc/gateway/routes.yaml]\nroutes: []\n"},
			wantErr: []string{"/fleet/versions/3/files/gateway.yaml:1:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			v := Version{Number: 3, Files: map[string][]byte{}}
			for n, s := range tt.give {
				v.Files[n] = []byte(s)
			}
			cfg, err := v.Load(key)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Routes) != tt.routes {
				t.Errorf("%d routes, want %d", len(cfg.Routes), tt.routes)
			}
		})
	}
}

func TestVersionWithConfigSourceRefused(t *testing.T) {
	v := Version{Number: 1, Files: map[string][]byte{"gateway.yaml": []byte("routes: []\nconfig_source: { etcd: {} }\n")}}
	_, err := v.Load(key)
	if !errors.Is(err, ErrNotPublishable) || !strings.Contains(err.Error(), "gateway.yaml:2:16: config_source") {
		t.Errorf("err = %v", err)
	}
}
