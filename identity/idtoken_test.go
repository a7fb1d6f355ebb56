package identity

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// jwtWith builds an unsigned JWT with the given payload; DecodeClaims does
// not check signatures, so the signature part is a placeholder.
func jwtWith(t *testing.T, payload any) string {
	t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(b) + ".c2ln"
}

func TestDecodeClaimsRejectsMalformed(t *testing.T) {
	tests := map[string]string{
		"empty":          "",
		"two parts":      "a.b",
		"not base64":     "a.!!!.c",
		"not json":       "a." + base64.RawURLEncoding.EncodeToString([]byte("nope")) + ".c",
		"json array":     "a." + base64.RawURLEncoding.EncodeToString([]byte("[1]")) + ".c",
		"json null":      "a." + base64.RawURLEncoding.EncodeToString([]byte("null")) + ".c",
		"oversized":      strings.Repeat("a", maxTokenSize+1),
		"four parts":     "a.b.c.d",
		"payload number": "a." + base64.RawURLEncoding.EncodeToString([]byte("42")) + ".c",
	}
	for name, raw := range tests {
		t.Run(name, func(t *testing.T) {
			if c, err := DecodeClaims(raw); err == nil {
				t.Fatalf("decoded %q into %v", raw, c)
			}
		})
	}
}

func TestValidateClaims(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	const issuer = "https://login.example/tenant-id/v2.0"
	good := func() map[string]any {
		return map[string]any{
			"iss": issuer, "aud": "client", "exp": now.Add(time.Hour).Unix(),
			"nbf": now.Add(-time.Minute).Unix(), "nonce": "n-1", "tid": "tenant-id",
		}
	}
	tests := []struct {
		name    string
		change  func(map[string]any)
		issuer  string
		nonce   string
		wantErr string
	}{
		{name: "valid", change: func(map[string]any) {}},
		{name: "valid without nonce check (refresh)", change: func(c map[string]any) { delete(c, "nonce") }, nonce: "-"},
		{name: "audience list", change: func(c map[string]any) { c["aud"] = []any{"other", "client"} }},
		{name: "multi-tenant issuer template", change: func(map[string]any) {}, issuer: "https://login.example/{tenantid}/v2.0"},
		{name: "expired beyond skew", change: func(c map[string]any) { c["exp"] = now.Add(-6 * time.Minute).Unix() }, wantErr: "expired"},
		{name: "expired within skew", change: func(c map[string]any) { c["exp"] = now.Add(-4 * time.Minute).Unix() }},
		{name: "no exp", change: func(c map[string]any) { delete(c, "exp") }, wantErr: "exp"},
		{name: "not yet valid", change: func(c map[string]any) { c["nbf"] = now.Add(10 * time.Minute).Unix() }, wantErr: "not valid before"},
		{name: "wrong audience", change: func(c map[string]any) { c["aud"] = "someone-else" }, wantErr: "audience"},
		{name: "wrong issuer", change: func(c map[string]any) { c["iss"] = "https://evil.example/tenant-id/v2.0" }, wantErr: "issuer"},
		{name: "wrong nonce", change: func(c map[string]any) { c["nonce"] = "n-2" }, wantErr: "nonce"},
		{name: "missing nonce", change: func(c map[string]any) { delete(c, "nonce") }, wantErr: "nonce"},
		{name: "template with another tenant", change: func(c map[string]any) { c["iss"] = "https://login.example/other/v2.0" },
			issuer: "https://login.example/{tenantid}/v2.0", wantErr: "issuer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := good()
			tt.change(payload)
			claims, err := DecodeClaims(jwtWith(t, payload))
			if err != nil {
				t.Fatal(err)
			}
			iss := issuer
			if tt.issuer != "" {
				iss = tt.issuer
			}
			nonce := "n-1"
			if tt.nonce == "-" {
				nonce = ""
			}
			err = validateClaims(claims, iss, "client", nonce, now, 5*time.Minute)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("got %v, want an error about %q", err, tt.wantErr)
			}
		})
	}
}

func TestClaimsHelpers(t *testing.T) {
	c, err := DecodeClaims(jwtWith(t, map[string]any{"roles": []string{"admin", "reader"}, "name": "Ada", "exp": 100}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.HasRole("admin") || c.HasRole("Admin") || c.HasRole("writer") {
		t.Errorf("HasRole wrong for %v", c["roles"])
	}
	if c.String("name") != "Ada" || c.String("roles") != "" {
		t.Error("String wrong")
	}
	if !c.Expired(time.Unix(100, 0), 0) || c.Expired(time.Unix(99, 0), 0) {
		t.Error("Expired wrong")
	}
}
