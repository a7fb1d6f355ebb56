package handlers

import (
	"runtime/debug"
	"testing"
)

// The footer's versions come from the build info, whatever shape the build
// gave it.
func TestVersionsOf(t *testing.T) {
	msal := &debug.Module{Path: msalModule, Version: "v1.10.1"}
	for _, tt := range []struct {
		name      string
		info      debug.BuildInfo
		app, msal string
	}{
		{"released", debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}, Deps: []*debug.Module{msal}}, "v1.2.0", "v1.10.1"},
		{"checkout with VCS stamp", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Deps: []*debug.Module{msal},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "7ab11c2f0123456789"}, {Key: "vcs.modified", Value: "true"}}},
			"devel 7ab11c2f0123+dirty", "v1.10.1"},
		{"test binary", debug.BuildInfo{Main: debug.Module{Version: ""}}, "devel", "unknown"},
		{"replaced MSAL", debug.BuildInfo{Main: debug.Module{Version: "v0.1.0"},
			Deps: []*debug.Module{{Path: msalModule, Version: "v1.10.1", Replace: &debug.Module{Version: "v1.10.2-fork"}}}}, "v0.1.0", "v1.10.2-fork"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := versionsOf(&tt.info)
			if got.app != tt.app || got.msal != tt.msal {
				t.Errorf("versionsOf = %+v, want app %q, MSAL %q", got, tt.app, tt.msal)
			}
		})
	}
}
