// Versions: the app's and MSAL Go's, from the build info, for the footer, as the identity library's samples show theirs.

package handlers

import (
	"runtime/debug"
	"strings"
)

// msalModule is MSAL Go's module path.
const msalModule = "github.com/AzureAD/microsoft-authentication-library-for-go"

// versions are read once: the build info does not change while the
// program runs.
var versions = readVersions()

type buildVersions struct{ app, msal string }

func readVersions() buildVersions {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return buildVersions{app: "unknown", msal: "unknown"}
	}
	return versionsOf(info)
}

// versionsOf picks the versions out of build info. A binary built from a
// checkout has the main module's version "(devel)" (or, since Go 1.24, a
// pseudo-version with +dirty); the VCS revision, when the build stamped
// one, says more.
func versionsOf(info *debug.BuildInfo) buildVersions {
	v := buildVersions{app: info.Main.Version, msal: "unknown"}
	if v.app == "" || v.app == "(devel)" {
		v.app = "devel"
		var revision, modified string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if len(revision) >= 12 {
			v.app += " " + revision[:12]
			if modified == "true" {
				v.app += "+dirty"
			}
		}
	}
	for _, dep := range info.Deps {
		if dep.Path == msalModule || strings.HasPrefix(dep.Path, msalModule+"/") {
			v.msal = dep.Version
			if dep.Replace != nil && dep.Replace.Version != "" {
				v.msal = dep.Replace.Version
			}
			break
		}
	}
	return v
}
