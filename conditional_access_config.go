// Configuration of Conditional Access: the client capabilities the app declares and the authentication context /admin requires.

package main

import (
	"fmt"
	"regexp"
	"strings"
)

// capabilityPattern is the shape of a client capability (Entra knows cp1).
var capabilityPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// authContextPattern is Entra ID's authentication context IDs: c1 to c99.
var authContextPattern = regexp.MustCompile(`^c[1-9][0-9]?$`)

// loadConditionalAccess reads CLIENT_CAPABILITIES and ADMIN_AUTH_CONTEXT.
// CLIENT_CAPABILITIES defaults to cp1 when it is not set at all, and set
// but empty it declares none: then Entra issues ordinary access tokens,
// which Continuous Access Evaluation does not revoke early and Graph never
// answers with a claims challenge.
func (cfg *Config) loadConditionalAccess(lookup func(string) (string, bool), get func(name, def string) string) []error {
	var errs []error
	capabilities := "cp1"
	if v, ok := lookup("CLIENT_CAPABILITIES"); ok {
		capabilities = v
	}
	cfg.ClientCapabilities = nil
	for _, c := range strings.FieldsFunc(capabilities, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if !capabilityPattern.MatchString(c) {
			errs = append(errs, fmt.Errorf("CLIENT_CAPABILITIES must list capabilities such as cp1 (comma-separated), or be empty for none, not %q", capabilities))
			break
		}
		cfg.ClientCapabilities = append(cfg.ClientCapabilities, c)
	}
	cfg.AdminAuthContext = get("ADMIN_AUTH_CONTEXT", "")
	if a := cfg.AdminAuthContext; a != "" && !authContextPattern.MatchString(a) {
		errs = append(errs, fmt.Errorf("ADMIN_AUTH_CONTEXT must be an authentication context ID from c1 to c99 (Entra admin center → Conditional Access → Authentication contexts), or empty for none, not %q", a))
	}
	return errs
}
